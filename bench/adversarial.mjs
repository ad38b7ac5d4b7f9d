// The catalogue of adversarial requests of `npm run bench` (part `abuse`): for each role, the most
// expensive requests we know it can send within the shipped limits (docs/security.md). Each entry is
// sent in a loop by several attackers at once while a prober measures an unrelated request; the
// benchmark reports the server CPU per request, the database time per request and the prober's latency.
// Add here every expensive request a review finds: the table in docs/performance.md follows this list.
//
// An entry: { name, role, transport ('http' | 'socket'), method, url, data?, upload?, why }.
// `role` is one of the logins the benchmark holds: anonymous, bar (a bar tablet), coord, admin.

/** A `like` pattern at the limits (100 characters, 10 wildcards) that fails late on every long row. */
const worstPattern = `%${'a%'.repeat(9)}${'a'.repeat(100 - 19 - 1)}b`;

/** `count` alternatives, each one condition of the filter budget (3 objects/keys each). */
const alternatives = (count, make) => Array.from({ length: count }, (_, i) => make(i));

export const adversarial = [
  {
    name: 'like-worst-pattern',
    role: 'bar',
    transport: 'http',
    method: 'GET',
    url: '/message',
    data: { filters: { text: { like: worstPattern } }, limit: 1000, count: true },
    why: 'pattern at maxPatternLength with maxWildcards over 500 rows of 5,000 characters, counted too',
  },
  {
    name: 'like-worst-pattern-socket',
    role: 'bar',
    transport: 'socket',
    method: 'GET',
    url: '/message',
    data: { filters: { text: { like: worstPattern } }, limit: 1000, count: true },
    why: 'the same over one socket, socket.maxInFlight requests at once',
  },
  {
    name: 'or-of-patterns',
    role: 'coord',
    transport: 'http',
    method: 'GET',
    url: '/message',
    data: {
      filters: { or: alternatives(10, (i) => ({ text: { like: `%${'a'.repeat(8)}${i}` } })) },
      limit: 1000,
    },
    why: 'the pattern budget spread over 10 alternatives (every row scanned once per alternative)',
  },
  {
    name: 'max-conditions',
    role: 'coord',
    transport: 'http',
    method: 'GET',
    url: '/message',
    data: {
      filters: { or: alternatives(60, (i) => ({ userId: i + 1, channel: { ne: `group:x${i}` } })) },
      limit: 1000,
      count: true,
    },
    why: 'close to maxConditions: the most Sequelize work a filter may ask for',
  },
  {
    name: 'in-1000',
    role: 'coord',
    transport: 'http',
    method: 'GET',
    url: '/message',
    data: {
      filters: { id: { notIn: alternatives(1000, (i) => i * 7 + 1) } },
      sort: ['-text', 'channel'],
      limit: 1000,
      count: true,
    },
    why: 'the longest value list, sorted on an unindexed text column, counted',
  },
  {
    name: 'list-1000-sorted',
    role: 'admin',
    transport: 'http',
    method: 'GET',
    url: '/message',
    data: { sort: ['-text', 'userId', '-createdAt'], limit: 1000, offset: 1000, count: true },
    why: 'the largest page, sorted on unindexed columns, deep offset (5,000-character texts serialized)',
  },
  {
    name: 'avatar-max-pixels',
    role: 'bar',
    transport: 'http',
    method: 'POST',
    url: '/user/avatar/:self',
    upload: 'max',
    why: 'an image at upload.maxImagePixels (decoded and resized; image work is queued one at a time)',
  },
  {
    name: 'login-wrong-password',
    role: 'anonymous',
    transport: 'http',
    method: 'POST',
    url: '/auth/login',
    data: { login: 'coord', password: 'not-the-password' },
    why: 'a bcrypt comparison at auth.bcryptRounds (the defence is its cost; the login limits bound the count)',
  },
  {
    name: 'login-unknown-user',
    role: 'anonymous',
    transport: 'http',
    method: 'POST',
    url: '/auth/login',
    data: { login: 'nobody-at-all', password: 'not-the-password' },
    why: 'the dummy bcrypt comparison of an unknown login',
  },
];
