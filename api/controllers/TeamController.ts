import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { Team } from '../models/Team.js';
import { assertCanGrantRole } from '../services/PermissionService.js';

/**
 * CRUD of teams (`team/read`, `team/admin`). A team that members, alerts or buttons reference cannot be
 * destroyed: their models declare it (`references`, `onDelete: 'restrict'`).
 */
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
}
