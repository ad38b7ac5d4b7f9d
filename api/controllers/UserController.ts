import { ModelController } from '../../lib/ModelController.js';
import { User } from '../models/User.js';

/** CRUD of users: `user/read|team|admin`; everyone reads and edits themself (name, password, preferences). */
export class UserController extends ModelController<User> {
  constructor() {
    super(User);
  }
}
