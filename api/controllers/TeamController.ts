import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController } from '../../lib/ModelController.js';
import { Team } from '../models/Team.js';
import type { AppRequest } from '../types.js';

/** CRUD of teams (`team/read`, `team/admin`); a team with members cannot be destroyed. */
export class TeamController extends ModelController<Team> {
  constructor() {
    super(Team);
  }

  override async destroy(req: AppRequest, res: FluxResponse): Promise<void> {
    const members = await Flux.User.count({
      where: { teamId: this.id(req), tenantId: this.context(req).tenant.id },
    });
    if (members > 0) throw new BadRequestError(`The team still has ${members} member(s): move them first`);
    await super.destroy(req, res);
  }
}
