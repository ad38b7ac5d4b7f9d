import type { NextFunction } from 'express';
import type { FluxRequest, FluxResponse } from '../../../../../lib/http.js';
import { Card } from '../models/Card.js';

/**
 * The toy's authentication: headers name who asks — `x-toy-user` (an id), `x-toy-role` (a role of the toy's
 * `config/roles.ts`, read through the model's context) and `x-toy-tenant` (default 1). Without
 * `x-toy-user` the request is anonymous, and the framework answers 401.
 */
export function toyAuth(req: FluxRequest, _res: FluxResponse, next: NextFunction): void {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const user = header('x-toy-user');
  if (user !== undefined) {
    const role = header('x-toy-role') ?? 'guest';
    const tenant = Number(header('x-toy-tenant') ?? 1);
    req.user = { id: Number(user), teamId: null };
    req.team = { id: 0, can: (permission) => Card.app.roles.get(role)?.has(permission) ?? false };
    req.tenant = { id: tenant, slug: `tenant-${tenant}` };
  }
  next();
}
