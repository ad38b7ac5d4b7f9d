import { describe, expect, it } from 'vitest';
import { crudRoutes, parseRouteTable, RouteTableError } from '../../lib/routes.js';

const targets = {
  controllers: {
    UserController: { find: () => {}, get: () => {} },
  },
  middlewares: new Set(['auth', 'requireAuth']),
};

describe('parseRouteTable', () => {
  it('parses keys, actions, middlewares and file fields into records', () => {
    const routes = parseRouteTable(
      {
        'get /user': { action: 'UserController.find', middlewares: ['auth'] },
        'post /user/avatar/:id': { action: 'UserController.get', file: 'avatar' },
      },
      targets,
    );
    expect(routes).toEqual([
      {
        key: 'get /user',
        method: 'get',
        path: '/user',
        controller: 'UserController',
        action: 'find',
        middlewares: ['auth'],
      },
      {
        key: 'post /user/avatar/:id',
        method: 'post',
        path: '/user/avatar/:id',
        controller: 'UserController',
        action: 'get',
        middlewares: [],
        file: 'avatar',
      },
    ]);
  });

  it.each([
    ['fetch /user', { action: 'UserController.find' }, /get\|post/],
    ['get user', { action: 'UserController.find' }, /get\|post/],
    ['get /user', { action: 'TeamController.find' }, /unknown controller "TeamController"/],
    ['get /user', { action: 'UserController.nope' }, /unknown action "nope"/],
    ['get /user', { action: 'UserController.constructor' }, /unknown action/],
    ['get /user', { action: 'find' }, /SomethingController\.action/],
    ['get /user', { action: 'UserController.find', middlewares: ['auht'] }, /unknown middleware "auht"/],
    ['get /user', { action: 'UserController.find', file: '../x' }, /file/],
    ['get /user', { action: 'UserController.find', extra: 1 }, /unknown option "extra"/],
    ['get /user', { action: 'UserController.find', httpOnly: 'yes' }, /httpOnly must be true or false/],
  ])('refuses %s %j, naming the route', (key, definition, message) => {
    expect(() => parseRouteTable({ [key]: definition }, targets)).toThrow(RouteTableError);
    expect(() => parseRouteTable({ [key]: definition }, targets)).toThrow(message);
    expect(() => parseRouteTable({ [key]: definition }, targets)).toThrow(`Route "${key}"`);
  });
});

describe('httpOnly', () => {
  it('When a route says httpOnly: true, then its record carries it; false or absent leaves it out', () => {
    const routes = parseRouteTable(
      {
        'get /metrics': { action: 'UserController.find', httpOnly: true },
        'get /user': { action: 'UserController.find', httpOnly: false },
        'get /user/:id': { action: 'UserController.get' },
      },
      targets,
    );
    expect(routes.map((route) => route.httpOnly)).toEqual([true, undefined, undefined]);
    expect(routes[1]).not.toHaveProperty('httpOnly');
  });
});

describe('crudRoutes', () => {
  it('declares the eight generic CRUD routes, subscribe before :id', () => {
    const keys = Object.keys(crudRoutes('team', 'TeamController', ['auth']));
    expect(keys).toEqual([
      'post /team/subscribe',
      'post /team/unsubscribe',
      'get /team',
      'get /team/:id',
      'post /team',
      'put /team/:id',
      'patch /team/:id',
      'delete /team/:id',
    ]);
  });
});
