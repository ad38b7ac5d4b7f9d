export default { level: 'error', dir: false };
