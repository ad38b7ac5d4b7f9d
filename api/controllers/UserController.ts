import { Flux } from '../../lib/Flux.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { User } from '../models/User.js';
import { authService } from '../services/AuthService.js';
import { assertCanGrantRole } from '../services/PermissionService.js';

/** CRUD of users: `user/read|team|admin`; everyone reads and edits themself (name, password, preferences). */
export class UserController extends ModelController<User> {
  constructor() {
    super(User);
  }

  /** Putting a user into a team gives them its role: only a team holding all of it may do so. */
  protected override async beforeSave(ctx: RequestContext, user: User): Promise<void> {
    if (user.teamId === null || user.teamId === undefined || !(user.isNewRecord || user.changed('teamId')))
      return;
    const team = await Flux.Team.findOne({ where: { id: user.teamId, tenantId: ctx.tenant.id } });
    if (team) assertCanGrantRole(ctx.team, team.role);
  }

  /**
   * A destroyed user is logged out everywhere first (its sessions are revoked, its sockets unbound);
   * messages outlive their author: their `userId` is cleared (and published).
   */
  protected override async beforeDestroy(ctx: RequestContext, user: User): Promise<void> {
    const sessions = await Flux.Session.findAll({
      where: { tenantId: ctx.tenant.id, userId: user.id, revokedAt: null },
    });
    for (const session of sessions) await authService.revoke(session);
    await Flux.Message.update({ userId: null }, { where: { tenantId: ctx.tenant.id, userId: user.id } });
  }
}
