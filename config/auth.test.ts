/** Tests: the lowest bcrypt cost keeps logins fast; login limits out of the way (a dedicated test sets them). */
export default { bcryptRounds: 4, loginLimit: { windowMs: 60_000, perAccount: 10_000, perAddress: 10_000 } };
