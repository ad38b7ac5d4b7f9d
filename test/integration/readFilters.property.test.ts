import fc from 'fast-check';
import { Op } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { FluxModelClass } from '../../lib/ModelController.js';
import { intersects, NOTHING } from '../../lib/permissions.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The invariant of docs/permissions.md §2 (`find` = read groups), as a property: for random teams, roles and
 * items, `getReadFilters` run in SQL selects exactly the items whose read groups meet the user's read groups
 * — for every model.
 */

let server: TestServer;
let tenantId: number;
/** Every role of config/roles.ts, read at start: a new role is covered without touching this test. */
let roles: string[] = [];
const groups = ['bars', 'food', 'safety', null];

beforeAll(async () => {
  server = await startTestServer();
  tenantId = (await Flux.Tenant.create({ name: 'Property', slug: 'property', settings: {} })).id;
  roles = [...Flux.roles.keys()];
});

afterAll(async () => {
  await server?.stop();
});

const teamIndex = fc.option(fc.nat({ max: 5 }), { nil: null });
const world = fc.record({
  teams: fc.array(
    fc.record({
      role: fc.oneof(fc.nat({ max: 100 }), fc.constantFrom<string>('security', 'bar')),
      group: fc.constantFrom(...groups),
    }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
  usersWithoutTeam: fc.nat({ max: 1 }),
  alerts: fc.array(
    fc.record({
      sender: teamIndex,
      receiver: teamIndex,
      severity: fc.constantFrom('done', 'warning', 'serious'),
    }),
    {
      maxLength: 12,
    },
  ),
  buttons: fc.array(fc.record({ senderGroup: fc.constantFrom(...groups), receiver: teamIndex }), {
    maxLength: 6,
  }),
  messages: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constantFrom('public', 'private'), team: fc.nat({ max: 5 }) }),
      fc.record({ kind: fc.constant('group'), group: fc.constantFrom('bars', 'food', 'safety') }),
    ),
    { maxLength: 12 },
  ),
});
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

async function reset(): Promise<void> {
  const queryInterface = Flux.sequelize.getQueryInterface();
  for (const table of ['Messages', 'Alerts', 'AlertButtons', 'Sessions', 'Users', 'Teams']) {
    await queryInterface.bulkDelete(table, { tenantId });
  }
}

async function build(w: World) {
  const teams: Array<InstanceType<typeof Flux.Team>> = [];
  for (const [i, spec] of w.teams.entries()) {
    const role = typeof spec.role === 'string' ? spec.role : roles[spec.role % roles.length];
    teams.push(await Flux.Team.create({ tenantId, name: `T${i}`, role, group: spec.group, location: null }));
  }
  const pick = (index: number | null) => (index === null ? null : teams[index % teams.length].id);
  const users = [];
  for (const [i, team] of teams.entries()) {
    users.push(
      await Flux.User.create({
        tenantId,
        login: `u${i}`,
        name: null,
        password: 'password-123',
        teamId: team.id,
        ip: null,
      }),
    );
  }
  for (let i = 0; i < w.usersWithoutTeam; i++) {
    users.push(
      await Flux.User.create({
        tenantId,
        login: `loner${i}`,
        name: null,
        password: 'password-123',
        teamId: null,
        ip: null,
      }),
    );
  }
  for (const [i, a] of w.alerts.entries()) {
    await Flux.Alert.create({
      tenantId,
      title: `A${i}`,
      severity: a.severity as 'warning',
      message: null,
      senderTeamId: pick(a.sender),
      receiverTeamId: pick(a.receiver),
      buttonId: null,
      users: [],
    });
  }
  for (const [i, b] of w.buttons.entries()) {
    await Flux.AlertButton.create({
      tenantId,
      title: `B${i}`,
      category: null,
      senderGroup: b.senderGroup,
      receiverTeamId: pick(b.receiver),
      messagePrompt: null,
      messageDefault: null,
    });
  }
  for (const m of w.messages) {
    const channel = 'group' in m ? `group:${m.group}` : `${m.kind}:${pick(m.team)}`;
    await Flux.Message.create({ tenantId, channel, text: 'hi', userId: users[0].id });
  }
  for (const user of users)
    await Flux.Session.create({
      tenantId,
      userId: user.id,
      ip: null,
      userAgent: null,
      socketId: null,
      lastAction: null,
      disconnectedAt: null,
      revokedAt: null,
      expiresAt: null,
    });
  return { teams, users };
}

describe('read filters equal read groups', () => {
  it('When items, teams and roles are random, then find selects exactly the items whose read groups meet the user’s', async () => {
    const models = ['Team', 'User', 'Session', 'Alert', 'AlertButton', 'Message'].map(
      (name) => Flux.models[name] as FluxModelClass,
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        await reset();
        const { teams, users } = await build(w);
        for (const user of users) {
          const team = teams.find((t) => t.id === user.teamId) ?? { id: 0, can: () => false, group: null };
          for (const model of models) {
            const all = await model.findAll({ where: { tenantId } });
            const userGroups = model.getUserReadGroups(team, user);
            const expected = all
              .filter((item) => intersects(userGroups, item.getReadGroups()))
              .map((item) => item.get('id'));
            const filters = model.getReadFilters(team, user);
            const actual =
              filters === NOTHING
                ? []
                : (await model.findAll({ where: { [Op.and]: [{ tenantId }, filters] } })).map((item) =>
                    item.get('id'),
                  );
            expect({ model: model.name, user: user.login, ids: actual.sort() }).toEqual({
              model: model.name,
              user: user.login,
              ids: expected.sort(),
            });
            checked++;
          }
        }
      }),
      {
        numRuns: 25,
        seed: Number(process.env.FLUX_PROPERTY_SEED ?? 20261121),
        // always include a security team facing alerts sent to nobody, and a loner without a team
        examples: [
          [
            {
              teams: [
                { role: 'security', group: 'safety' },
                { role: 'bar', group: 'bars' },
              ],
              usersWithoutTeam: 1,
              alerts: [{ sender: 1, receiver: null, severity: 'serious' }],
              buttons: [{ senderGroup: null, receiver: null }],
              messages: [{ kind: 'private', team: 0 }],
            },
          ],
        ],
      },
    );
    expect(checked).toBeGreaterThan(100);
  }, 120_000);
});
