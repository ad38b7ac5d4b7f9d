import { Op } from 'sequelize';
import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { Team } from '../models/Team.js';
import { assertCanGrantRole } from '../services/PermissionService.js';

/** CRUD of teams (`team/read`, `team/admin`); a team with members cannot be destroyed. */
export class TeamController extends ModelController<Team> {
  constructor() {
    super(Team);
  }

  /** Changing or destroying a team needs every permission of its current role (no demoting the admins). */
  protected override async checkItem(ctx: RequestContext, team: Team): Promise<void> {
    assertCanGrantRole(ctx.team, team.role);
  }

  /** A role can only be given by a team that holds all its permissions. */
  protected override async beforeSave(ctx: RequestContext, team: Team): Promise<void> {
    if (team.isNewRecord || team.changed('role')) assertCanGrantRole(ctx.team, team.role);
  }

  /**
   * A team with members, alerts or buttons cannot be destroyed: clearing an alert's receiver would hand
   * it to the teams that handle alerts sent to nobody. Move or close them first.
   */
  protected override async beforeDestroy(ctx: RequestContext, team: Team): Promise<void> {
    const tenantId = ctx.tenant.id;
    const [members, alerts, buttons] = await Promise.all([
      Flux.User.count({ where: { tenantId, teamId: team.id } }),
      Flux.Alert.count({
        where: { tenantId, [Op.or]: [{ senderTeamId: team.id }, { receiverTeamId: team.id }] },
      }),
      Flux.AlertButton.count({ where: { tenantId, receiverTeamId: team.id } }),
    ]);
    if (members || alerts || buttons) {
      throw new BadRequestError(
        `The team still has ${members} member(s), ${alerts} alert(s) and ${buttons} button(s): move or remove them first`,
      );
    }
  }
}
