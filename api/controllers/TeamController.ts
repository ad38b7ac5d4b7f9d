import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { Team } from '../models/Team.js';

/** CRUD of teams (`team/read`, `team/admin`); a team with members cannot be destroyed. */
export class TeamController extends ModelController<Team> {
  constructor() {
    super(Team);
  }

  protected override async beforeDestroy(ctx: RequestContext, team: Team): Promise<void> {
    const members = await Flux.User.count({ where: { teamId: team.id, tenantId: ctx.tenant.id } });
    if (members > 0) throw new BadRequestError(`The team still has ${members} member(s): move them first`);
    // Alerts and buttons outlive the team; clearing the references publishes each change.
    const tenantId = ctx.tenant.id;
    await Flux.Alert.update({ senderTeamId: null }, { where: { tenantId, senderTeamId: team.id } });
    await Flux.Alert.update({ receiverTeamId: null }, { where: { tenantId, receiverTeamId: team.id } });
    await Flux.AlertButton.update({ receiverTeamId: null }, { where: { tenantId, receiverTeamId: team.id } });
  }
}
