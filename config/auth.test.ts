/** Tests: the lowest bcrypt cost keeps logins fast. */
export default { bcryptRounds: 4 };
