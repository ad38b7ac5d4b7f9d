import fc from 'fast-check';
import { expect } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { Transport } from './clients.js';

/**
 * Random writes on the demo event (api/services/fixtures.ts) by its different users, for convergence tests:
 * raising alerts from buttons, moving alerts between receivers and messages between channels, assigning,
 * destroying, users changing teams, writes in another tenant. `actors` are the demo logins; `run` needs a
 * transport per actor (and `other:coord` for the other tenant).
 */

export const actors = [
  'coord',
  'bar-nord',
  'bar-sud',
  'bar-central',
  'food',
  'logistics',
  'cleaning',
  'security',
  'firstaid',
  'welcome',
];

const small = fc.nat({ max: 1000 });
const maybe = fc.option(small, { nil: null });
export const operation = fc.oneof(
  fc.record({ kind: fc.constant('raise' as const), actor: small, button: small, message: fc.boolean() }),
  fc.record({ kind: fc.constant('createAlert' as const), sender: maybe, receiver: maybe }),
  fc.record({ kind: fc.constant('moveAlert' as const), alert: small, receiver: maybe }),
  fc.record({
    kind: fc.constant('severity' as const),
    actor: small,
    alert: small,
    severity: fc.constantFrom('done', 'warning', 'serious'),
  }),
  fc.record({
    kind: fc.constant('assign' as const),
    actor: small,
    alert: small,
    users: fc.array(small, { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('destroyAlert' as const), alert: small }),
  fc.record({ kind: fc.constant('post' as const), actor: small, channel: small }),
  fc.record({ kind: fc.constant('moveMessage' as const), message: small, channel: small }),
  fc.record({ kind: fc.constant('editMessage' as const), actor: small, message: small }),
  fc.record({ kind: fc.constant('destroyMessage' as const), actor: small, message: small }),
  fc.record({
    kind: fc.constant('updateButton' as const),
    button: small,
    group: fc.constantFrom('bars', 'food', 'orga', null),
    receiver: maybe,
  }),
  fc.record({
    kind: fc.constant('createButton' as const),
    group: fc.constantFrom('bars', 'food', 'safety'),
    receiver: maybe,
  }),
  fc.record({ kind: fc.constant('destroyButton' as const), button: small }),
  fc.record({ kind: fc.constant('createUser' as const), team: small }),
  fc.record({ kind: fc.constant('moveUser' as const), user: small, team: small }),
  fc.record({ kind: fc.constant('renameUser' as const), user: small }),
  fc.record({ kind: fc.constant('teamLocation' as const), team: small }),
  fc.record({ kind: fc.constant('otherTenant' as const), receiver: maybe, channel: small }),
);
export type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

/** Runs one operation through the API as its actor. Refusals (4xx) are part of the game; 5xx are not. */
export async function run(
  op: Operation,
  tenantIds: { a: number; b: number },
  created: number[],
  actor: (login: string) => Transport,
): Promise<number> {
  const pick = <T>(list: T[], n: number): T | undefined => (list.length ? list[n % list.length] : undefined);
  const tenantId = tenantIds.a;
  const teams = (await Flux.Team.findAll({ where: { tenantId }, order: [['id', 'ASC']] })).map((t) => t);
  const teamId = (n: number | null) => (n === null ? null : pick(teams, n)!.id);
  const alerts = (
    await Flux.Alert.findAll({ where: { tenantId }, attributes: ['id'], order: [['id', 'ASC']] })
  ).map((a) => a.id);
  const messages = await Flux.Message.findAll({ where: { tenantId }, order: [['id', 'ASC']] });
  const buttons = (
    await Flux.AlertButton.findAll({ where: { tenantId }, attributes: ['id'], order: [['id', 'ASC']] })
  ).map((b) => b.id);
  const users = (
    await Flux.User.findAll({ where: { tenantId }, attributes: ['id', 'login'], order: [['id', 'ASC']] })
  ).map((u) => u.id);
  const groups = [...new Set(teams.map((t) => t.group).filter(Boolean))] as string[];
  const channels = [
    ...teams.flatMap((t) => [`public:${t.id}`, `private:${t.id}`]),
    ...groups.map((g) => `group:${g}`),
  ];
  const who = (n: number) => actor(pick(actors, n)!);
  const coord = actor('coord');
  let reply: { status: number };
  switch (op.kind) {
    case 'raise':
      reply = await who(op.actor).request(
        'POST',
        `/alertbutton/${pick(buttons, op.button) ?? 0}/alert`,
        op.message ? { message: 'Help' } : {},
      );
      break;
    case 'createAlert':
      reply = await coord.request('POST', '/alert', {
        title: 'Manual',
        severity: 'serious',
        senderTeamId: teamId(op.sender),
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'moveAlert':
      reply = await coord.request('PATCH', `/alert/${pick(alerts, op.alert) ?? 0}`, {
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'severity':
      reply = await who(op.actor).request('PATCH', `/alert/${pick(alerts, op.alert) ?? 0}`, {
        severity: op.severity,
      });
      break;
    case 'assign':
      reply = await who(op.actor).request('PUT', `/alert/${pick(alerts, op.alert) ?? 0}/users`, {
        users: op.users.map((n) => pick(users, n)!),
      });
      break;
    case 'destroyAlert':
      reply = await coord.request('DELETE', `/alert/${pick(alerts, op.alert) ?? 0}`);
      break;
    case 'post':
      reply = await who(op.actor).request('POST', '/message', {
        channel: pick(channels, op.channel),
        text: 'Radio check',
      });
      break;
    case 'moveMessage':
      reply = await coord.request('PATCH', `/message/${pick(messages, op.message)?.id ?? 0}`, {
        channel: pick(channels, op.channel),
      });
      break;
    case 'editMessage':
      reply = await who(op.actor).request('PATCH', `/message/${pick(messages, op.message)?.id ?? 0}`, {
        text: 'Edited',
      });
      break;
    case 'destroyMessage':
      reply = await who(op.actor).request('DELETE', `/message/${pick(messages, op.message)?.id ?? 0}`);
      break;
    case 'updateButton':
      reply = await coord.request('PATCH', `/alertbutton/${pick(buttons, op.button) ?? 0}`, {
        senderGroup: op.group,
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'createButton':
      reply = await coord.request('POST', '/alertbutton', {
        title: 'New button',
        senderGroup: op.group,
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'destroyButton':
      reply = await coord.request('DELETE', `/alertbutton/${pick(buttons, op.button) ?? 0}`);
      break;
    case 'createUser': {
      reply = await coord.request('POST', '/user', {
        login: `temp-${created.length}-${Date.now()}`,
        password: 'temp-password',
        teamId: teamId(op.team),
      });
      if (reply.status === 201) created.push((reply as { body: { id: number } } & typeof reply).body.id);
      break;
    }
    case 'moveUser':
      // only users created here: subscribed users keep their team (see the dedicated test below)
      reply = await coord.request('PATCH', `/user/${pick(created, op.user) ?? 0}`, {
        teamId: teamId(op.team),
      });
      break;
    case 'renameUser':
      reply = await coord.request('PATCH', `/user/${pick(users, op.user) ?? 0}`, {
        name: `Renamed ${op.user}`,
      });
      break;
    case 'teamLocation':
      reply = await coord.request('PATCH', `/team/${teamId(op.team)}`, { location: `Zone ${op.team % 7}` });
      break;
    case 'otherTenant': {
      const otherTeams = await Flux.Team.findAll({
        where: { tenantId: tenantIds.b },
        order: [['id', 'ASC']],
      });
      const receiver = op.receiver === null ? null : pick(otherTeams, op.receiver)!.id;
      reply = await actor('other:coord').request('POST', '/alert', {
        title: 'Other',
        severity: 'warning',
        receiverTeamId: receiver,
      });
      await actor('other:coord').request('POST', '/message', {
        channel: `public:${pick(otherTeams, op.channel)!.id}`,
        text: 'Other',
      });
      break;
    }
  }
  expect(reply.status, JSON.stringify({ op, reply })).toBeLessThan(500);
  return reply.status;
}
