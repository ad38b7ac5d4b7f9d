import { Flux } from '../../lib/Flux.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { User } from '../models/User.js';

/** CRUD of users: `user/read|team|admin`; everyone reads and edits themself (name, password, preferences). */
export class UserController extends ModelController<User> {
  constructor() {
    super(User);
  }

  /** Messages outlive their author: their `userId` is cleared (and published). */
  protected override async beforeDestroy(ctx: RequestContext, user: User): Promise<void> {
    await Flux.Message.update({ userId: null }, { where: { tenantId: ctx.tenant.id, userId: user.id } });
  }
}
