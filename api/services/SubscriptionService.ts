import { Op } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { noTeam } from '../../lib/permissions.js';

/**
 * Keeps live subscriptions in step with permissions: when a user changes team, or a team changes role or
 * group, the rooms of that user's connected sockets — on every instance — are recomputed
 * (docs/reference.md#events), and each socket whose rooms changed is told `subscription:refresh`.
 */

/** Bus topic: `{userIds}` have new read groups; every instance recomputes its sockets of those users. */
export const USER_GROUPS_CHANGED = 'user:groups';

/**
 * Recomputes the rooms of this instance's sockets of `userIds` (a no-op without such sockets). Changes
 * that reach this instance meanwhile wait for the new rooms (`PubSub.holdDeliveries`): call it as soon as
 * the announcement arrives, before the changes published after it are delivered.
 */
export function refreshUserSockets(userIds: number[]): Promise<void> {
  const ids = userIds.filter((id) => Flux.sockets.socketsOfUser(id).length > 0);
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
    for (const socket of Flux.sockets.socketsOfUser(user.id)) {
      Flux.pubsub.resubscribe(
        socket,
        user.tenantId,
        (model) => byPublicName.get(model)?.getUserReadGroups(team, user) ?? [],
      );
    }
  }
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
