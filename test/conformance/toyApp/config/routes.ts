import { crudRoutes, type RouteTable } from '../../../../lib/routes.js';

/** The toy application's routes: the generic CRUD of `Card`, behind the toy's own authentication. */
export default {
  ...crudRoutes('card', 'CardController', ['toyAuth']),
} satisfies RouteTable;
