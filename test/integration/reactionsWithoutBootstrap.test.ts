import { afterEach, describe, expect, it } from 'vitest';
import { comparePassword } from '../../api/services/PasswordService.js';
import { Flux } from '../../lib/Flux.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * The reactions to writes (`api/reactions.ts`) are the framework's to add, at every start: a script, a
 * job runner or a CLI command that starts Flux without `api/bootstrap.ts` writes by the same rules.
 */

let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

afterEach(async () => {
  await Flux.stop();
  await database?.drop();
});

describe('a Flux started without api/bootstrap.ts (scripts, the CLI)', () => {
  it('When a user is written there, then the reactions hold all the same: the password is stored hashed', async () => {
    database = await createTestDatabase();
    await Flux.start({
      listen: false,
      bootstrap: false,
      config: { database: database.config, log: { level: 'error', dir: false } },
    });
    const tenant = await Flux.Tenant.create({ name: 'Script', slug: 'script' } as never);
    const team = await Flux.Team.create({ name: 'Scripted', role: 'orga', tenantId: tenant.id } as never);
    const user = await Flux.User.create({
      login: 'scripted',
      name: 'Scripted',
      password: 'written-by-a-script',
      teamId: team.id,
      tenantId: tenant.id,
    } as never);
    const stored = (await Flux.User.findByPk(user.id))?.password as string;
    expect(stored).not.toBe('written-by-a-script');
    expect(await comparePassword('written-by-a-script', stored)).toBe(true);
  });
});
