import { describe, expectTypeOf, it } from 'vitest';
import type { CreateInput, FindParams, Input, Item, Service } from '../../client/src/index.js';

// Compiled by `tsc` (npm test's typecheck): each @ts-expect-error must meet an error, or the build fails.
describe('client types derived from the server models', () => {
  it('When a filter, sort or body names a wrong field or type, then it does not compile', () => {
    const ok: FindParams<Item<'alert'>> = {
      filters: {
        severity: { in: ['serious', 'warning'] },
        or: [{ receiverTeamId: null }, { title: { like: 'A%' } }],
      },
      sort: ['-createdAt', 'title'],
    };
    expectTypeOf(ok).toMatchTypeOf<FindParams<Item<'alert'>>>();
    // @ts-expect-error `colour` is not an attribute of alert
    const badFilter: FindParams<Item<'alert'>> = { filters: { colour: 'red' } };
    // @ts-expect-error `severity` is an enum: 'bad' is not one of its values
    const badValue: FindParams<Item<'alert'>> = { filters: { severity: 'bad' } };
    // @ts-expect-error `name` is not an attribute of alert
    const badSort: FindParams<Item<'alert'>> = { sort: '-name' };
    // @ts-expect-error `titel` is not an attribute of alert
    const badBody: Input<'alert'> = { titel: 'Fire' };
    // @ts-expect-error `id` is set by the server
    const serverSet: Input<'team'> = { id: 3 };
    // @ts-expect-error a team needs its `name` (and `role`) to be created
    const missing: CreateInput<'team'> = { role: 'bar' };
    const created: CreateInput<'team'> = { name: 'Bar', role: 'bar' }; // group, location: nullable, optional
    // @ts-expect-error `titel` is not an attribute of alert
    const badCreate: CreateInput<'alert'> = { title: 'Fire', severity: 'warning', titel: 'x' };
    void [badFilter, badValue, badSort, badBody, serverSet, missing, created, badCreate];
  });

  it('When an item is read, then its dates are strings and hidden attributes are absent', () => {
    expectTypeOf<Item<'alert'>['createdAt']>().toEqualTypeOf<string>();
    expectTypeOf<Item<'alert'>['receiverTeamId']>().toEqualTypeOf<number | null>();
    expectTypeOf<Item<'user'>>().not.toHaveProperty('password');
    expectTypeOf<Item<'session'>>().not.toHaveProperty('socketId');
    expectTypeOf<Input<'user'>>().toHaveProperty('password');
    expectTypeOf<ReturnType<Service<'team'>['get']>>().toEqualTypeOf<Promise<Item<'team'>>>();
  });
});
