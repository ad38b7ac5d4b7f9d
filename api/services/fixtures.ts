import { NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';

/**
 * The demo event: a summer festival run by a dozen teams. Used by `npm run fixtures` / `flux fixtures`
 * and the README walkthrough. Every user's password is {@link DEMO_PASSWORD}.
 */

export const DEMO_PASSWORD = 'festival-2026';

interface TeamSpec {
  name: string;
  role: string;
  group: string | null;
  location: string;
  users: Array<[login: string, name: string]>;
}

const teams: TeamSpec[] = [
  {
    name: 'Coordination',
    role: 'coord',
    group: 'coord',
    location: 'HQ trailer',
    users: [
      ['coord', 'Camille (coordination)'],
      ['coord2', 'Noor (coordination)'],
    ],
  },
  {
    name: 'Bar Nord',
    role: 'bar',
    group: 'bars',
    location: 'North field',
    users: [['bar-nord', 'Bar Nord tablet']],
  },
  {
    name: 'Bar Sud',
    role: 'bar',
    group: 'bars',
    location: 'South field',
    users: [['bar-sud', 'Bar Sud tablet']],
  },
  {
    name: 'Bar Central',
    role: 'bar',
    group: 'bars',
    location: 'Main square',
    users: [['bar-central', 'Bar Central tablet']],
  },
  {
    name: 'Bar VIP',
    role: 'bar',
    group: 'bars',
    location: 'Backstage',
    users: [['bar-vip', 'Bar VIP tablet']],
  },
  {
    name: 'Food court',
    role: 'bar',
    group: 'food',
    location: 'Main square',
    users: [['food', 'Food court tablet']],
  },
  {
    name: 'Logistics',
    role: 'logistics',
    group: 'logistics',
    location: 'Warehouse',
    users: [
      ['logistics', 'Sam (logistics)'],
      ['driver', 'Alex (forklift)'],
    ],
  },
  {
    name: 'Cleaning',
    role: 'logistics',
    group: 'logistics',
    location: 'Warehouse',
    users: [['cleaning', 'Robin (cleaning)']],
  },
  {
    name: 'Security',
    role: 'security',
    group: 'safety',
    location: 'Gate A',
    users: [['security', 'Jordan (security)']],
  },
  {
    name: 'First aid',
    role: 'security',
    group: 'safety',
    location: 'Medical tent',
    users: [['firstaid', 'Dr. Lee (first aid)']],
  },
  {
    name: 'Welcome desk',
    role: 'orga',
    group: 'orga',
    location: 'Entrance',
    users: [['welcome', 'Welcome desk']],
  },
  { name: 'Stage', role: 'orga', group: 'orga', location: 'Main stage', users: [['stage', 'Stage manager']] },
];

/** What {@link loadDemoEvent} created. */
export interface DemoSummary {
  tenant: string;
  teams: number;
  users: number;
  buttons: number;
  alerts: number;
  messages: number;
  password: string;
}

/**
 * Loads the demo event into a tenant, through the models (so every row is published like an API write).
 * Idempotent: when the tenant already has a team `Coordination`, nothing is written.
 * @throws NotFoundError when the tenant does not exist.
 */
export async function loadDemoEvent(tenantSlug = 'default'): Promise<DemoSummary & { created: boolean }> {
  const tenant = await Flux.Tenant.findOne({ where: { slug: tenantSlug } });
  if (!tenant) throw new NotFoundError(`No tenant ${tenantSlug}`);
  const tenantId = tenant.id;
  const summary = {
    tenant: tenant.slug,
    teams: 0,
    users: 0,
    buttons: 0,
    alerts: 0,
    messages: 0,
    password: DEMO_PASSWORD,
  };
  if (await Flux.Team.findOne({ where: { tenantId, name: 'Coordination' } }))
    return { ...summary, created: false };

  return Flux.sequelize.transaction(async (transaction) => {
    const byName = new Map<string, number>();
    const userIds = new Map<string, number>();
    for (const spec of teams) {
      const team = await Flux.Team.create(
        { tenantId, name: spec.name, role: spec.role, group: spec.group, location: spec.location },
        { transaction },
      );
      byName.set(spec.name, team.id);
      summary.teams++;
      for (const [login, name] of spec.users) {
        const user = await Flux.User.create(
          // an address of the reserved example.org domain (RFC 2606): the demo's mails go nowhere real
          {
            tenantId,
            login,
            name,
            email: `${login}@example.org`,
            password: DEMO_PASSWORD,
            teamId: team.id,
            ip: null,
          },
          { transaction },
        );
        userIds.set(login, user.id);
        summary.users++;
      }
    }
    const team = (name: string) => byName.get(name)!;

    const buttons = [
      {
        title: 'Out of beer',
        category: 'Supplies',
        senderGroup: 'bars',
        receiverTeamId: team('Logistics'),
        messageRequired: false,
        messagePrompt: 'Which beer?',
        messageDefault: 'Kegs needed',
      },
      {
        title: 'Out of cups',
        category: 'Supplies',
        senderGroup: 'bars',
        receiverTeamId: team('Logistics'),
        messageRequired: false,
        messagePrompt: null,
        messageDefault: 'Cups needed',
      },
      {
        title: 'Spill to clean',
        category: 'Cleaning',
        senderGroup: 'bars',
        receiverTeamId: team('Cleaning'),
        messageRequired: false,
        messagePrompt: 'Where exactly?',
        messageDefault: null,
      },
      {
        title: 'Aggressive customer',
        category: 'Safety',
        senderGroup: 'bars',
        receiverTeamId: team('Security'),
        messageRequired: true,
        messagePrompt: 'Describe the person and where',
        messageDefault: null,
      },
      {
        title: 'Medical emergency',
        category: 'Safety',
        senderGroup: 'bars',
        receiverTeamId: team('First aid'),
        messageRequired: true,
        messagePrompt: 'Who, where, conscious?',
        messageDefault: null,
      },
      {
        title: 'Cash register down',
        category: 'Money',
        senderGroup: 'bars',
        receiverTeamId: null,
        messageRequired: false,
        messagePrompt: null,
        messageDefault: 'Register not working',
      },
      {
        title: 'Out of ingredients',
        category: 'Supplies',
        senderGroup: 'food',
        receiverTeamId: team('Logistics'),
        messageRequired: true,
        messagePrompt: 'Which ingredient?',
        messageDefault: null,
      },
      {
        title: 'Lost child',
        category: 'Safety',
        senderGroup: 'orga',
        receiverTeamId: team('Security'),
        messageRequired: true,
        messagePrompt: 'Name, age, clothes',
        messageDefault: null,
      },
    ];
    const buttonIds: number[] = [];
    for (const button of buttons) {
      buttonIds.push((await Flux.AlertButton.create({ tenantId, ...button }, { transaction })).id);
      summary.buttons++;
    }

    const alerts = [
      {
        title: 'Out of beer',
        severity: 'warning' as const,
        message: '2 kegs of lager',
        senderTeamId: team('Bar Nord'),
        receiverTeamId: team('Logistics'),
        buttonId: buttonIds[0],
        users: [userIds.get('driver')!],
      },
      {
        title: 'Out of cups',
        severity: 'done' as const,
        message: 'Cups needed',
        senderTeamId: team('Bar Sud'),
        receiverTeamId: team('Logistics'),
        buttonId: buttonIds[1],
        users: [],
      },
      {
        title: 'Aggressive customer',
        severity: 'serious' as const,
        message: 'Tall man in red, near the taps',
        senderTeamId: team('Bar Central'),
        receiverTeamId: team('Security'),
        buttonId: buttonIds[3],
        users: [],
      },
      {
        title: 'Cash register down',
        severity: 'warning' as const,
        message: 'Register 2 frozen',
        senderTeamId: team('Bar VIP'),
        receiverTeamId: null,
        buttonId: buttonIds[5],
        users: [],
      },
    ];
    for (const alert of alerts) {
      await Flux.Alert.create({ tenantId, ...alert }, { transaction });
      summary.alerts++;
    }

    const messages: Array<[login: string, channel: string, text: string]> = [
      ['coord', `public:${team('Coordination')}`, 'Gates open at 16:00, all teams ready by 15:30 please.'],
      ['bar-nord', `public:${team('Bar Nord')}`, 'Bar Nord open, queue is short.'],
      ['logistics', 'group:bars', 'Keg delivery round at 18:00 for all bars.'],
      ['security', `private:${team('Security')}`, 'Two guards short at Gate B until 17:00.'],
      ['coord', 'group:safety', 'First aid and security: radio channel 3 tonight.'],
    ];
    for (const [login, channel, text] of messages) {
      await Flux.Message.create({ tenantId, channel, text, userId: userIds.get(login)! }, { transaction });
      summary.messages++;
    }
    return { ...summary, created: true };
  });
}
