import { Op } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { noTeam } from '../../lib/permissions.js';

/**
 * Keeps live subscriptions in step with permissions: when a user changes team, or a team changes role,
 * the rooms of that user's connected sockets are recomputed (SPEC §12), so the next change reaches
 * them with the transition their new groups imply.
 */
export async function refreshUserSockets(userIds: number[]): Promise<void> {
  const ids = userIds.filter((id) => Flux.sockets.socketsOfUser(id).length > 0);
  if (ids.length === 0) return;
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

/** Refreshes the sockets of every member of `teamId` (after its role changed). */
export async function refreshTeamSockets(teamId: number): Promise<void> {
  const members = await Flux.User.findAll({ where: { teamId }, attributes: ['id'] });
  await refreshUserSockets(members.map((user) => user.id));
}
