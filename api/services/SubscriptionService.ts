import { Op } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { noTeam } from '../../lib/permissions.js';
import type { Subscriber } from '../../lib/pubsub.js';
import { refreshStatsRooms } from './StatsService.js';

/**
 * Keeps live subscriptions in step with permissions: when a user changes team, or a team changes role or
 * group, the rooms of that user's connected sockets and open event streams (`GET /events`) — on every
 * instance — are recomputed (docs/reference.md#events), and each whose rooms changed is told
 * `subscription:refresh`. The sockets' team (counted by the statistics) and admins room (docs/stats.md)
 * follow too.
 */

/** Bus topic: `{userIds}` have new read groups; every instance recomputes its sockets of those users. */
export const USER_GROUPS_CHANGED = 'user:groups';

/**
 * Recomputes the rooms of this instance's sockets and event streams of `userIds` (a no-op without any).
 * Changes that reach this instance meanwhile wait for the new rooms (`PubSub.holdDeliveries`): call it as
 * soon as the announcement arrives, before the changes published after it are delivered.
 */
export function refreshUserSockets(userIds: number[]): Promise<void> {
  const ids = userIds.filter((id) => subscribersOf(id).length > 0);
  if (ids.length === 0) return Promise.resolve();
  const refreshed = recomputeRooms(ids);
  Flux.pubsub.holdDeliveries(refreshed);
  return refreshed;
}

async function recomputeRooms(ids: number[]): Promise<void> {
  const users = await Flux.User.findAll({
    where: { id: { [Op.in]: ids } },
    include: [{ association: 'team' }],
  });
  const byPublicName = new Map(Object.values(Flux.models).map((model) => [model.publicName, model]));
  for (const user of users) {
    const team = user.team ?? noTeam;
    for (const subscriber of subscribersOf(user.id)) {
      Flux.pubsub.resubscribe(
        subscriber,
        user.tenantId,
        (model) => byPublicName.get(model)?.getUserReadGroups(team, user) ?? [],
      );
    }
    // the statistics count each socket in its user's team
    for (const socket of Flux.sockets.socketsOfUser(user.id)) {
      const auth = Flux.sockets.auth(socket);
      if (auth) auth.teamId = user.teamId;
    }
  }
  await refreshStatsRooms(users);
}

/** This instance's sockets and event streams of `userId`. */
function subscribersOf(userId: number): Subscriber[] {
  return [...Flux.sockets.socketsOfUser(userId), ...Flux.eventStreams.streamsOfUser(userId)];
}

/** Announces to every instance that `userIds` have new read groups. */
export async function announceGroupChange(userIds: number[]): Promise<void> {
  if (userIds.length) await Flux.bus.publish(USER_GROUPS_CHANGED, { userIds });
}

/** Announces that every member of `teamId` has new read groups (its role or group changed). */
export async function announceTeamGroupChange(teamId: number): Promise<void> {
  const members = await Flux.User.findAll({ where: { teamId }, attributes: ['id'] });
  await announceGroupChange(members.map((user) => user.id));
}
