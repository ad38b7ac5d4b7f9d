import { z } from 'zod';
import { ForbiddenError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { validate } from '../../lib/validate.js';
import type { Tenant } from '../models/Tenant.js';
import { DEFAULT_TENANT } from '../services/AuthService.js';
import { avatarBytes } from '../services/AvatarService.js';
import { createTenant, newTenantSchema } from '../services/TenantService.js';
import type { AppRequest } from '../types.js';

const settingsSchema = z.object({
  settings: z
    .record(z.string(), z.unknown())
    .refine((value) => JSON.stringify(value).length <= 50_000, 'settings too large'),
});

/**
 * Tenants (docs/reference.md#tenants): the events sharing this server. Every action needs `tenant/admin`,
 * which counts only for teams of the `default` tenant (the platform operator's).
 */
export class TenantController {
  /** Request bodies, for validation and the OpenAPI document. */
  static schemas = { create: newTenantSchema, updateSettings: settingsSchema };

  private requireOperator(req: AppRequest): void {
    if (req.tenant?.slug !== DEFAULT_TENANT || !req.team?.can('tenant/admin')) {
      throw new ForbiddenError('Needs permission tenant/admin of the platform operator');
    }
  }

  private async tenant(req: AppRequest): Promise<Tenant> {
    const raw = String(req.params.id);
    const tenant = /^\d{1,15}$/.test(raw) ? await Flux.Tenant.findByPk(Number(raw)) : null;
    if (!tenant) throw new NotFoundError(`No tenant ${String(req.params.id)}`);
    return tenant;
  }

  /**
   * `POST /tenant {name, slug, admin: {login, password}}` → 201 the tenant, created with a team `Admin`
   * (role `admin`) and that user, who logs in with `X-Tenant: <slug>`.
   * @throws 400 ValidationError (bad or taken slug, short password), 403 not an operator.
   */
  async create(req: AppRequest, res: FluxResponse): Promise<void> {
    this.requireOperator(req);
    const { tenant } = await createTenant(req.data);
    Flux.log.info(`tenant ${tenant.slug} created by user ${req.user!.id}`);
    res.created(tenant);
  }

  /** `GET /tenant` → every tenant. */
  async find(req: AppRequest, res: FluxResponse): Promise<void> {
    this.requireOperator(req);
    res.ok(await Flux.Tenant.findAll({ order: [['id', 'ASC']] }));
  }

  /** `GET /tenant/:id`. */
  async get(req: AppRequest, res: FluxResponse): Promise<void> {
    this.requireOperator(req);
    res.ok(await this.tenant(req));
  }

  /** `PUT /tenant/:id/settings {settings: {…}}` → the tenant with its settings replaced. */
  async updateSettings(req: AppRequest, res: FluxResponse): Promise<void> {
    this.requireOperator(req);
    const { settings } = validate(settingsSchema, req.data);
    const tenant = await this.tenant(req);
    tenant.settings = settings;
    await tenant.save(); // cached tenants are dropped by the write (api/reactions.ts)
    res.ok(tenant);
  }

  /**
   * `GET /tenant/:id/usage` → `{tenantId, rows: {<model>: count}, sockets, storageBytes}`: rows per model,
   * sockets of this instance bound to the tenant, and bytes of stored uploads (none are stored yet).
   */
  async usage(req: AppRequest, res: FluxResponse): Promise<void> {
    this.requireOperator(req);
    const tenant = await this.tenant(req);
    const rows: Record<string, number> = {};
    for (const model of Object.values(Flux.models)) {
      if (model.tenantScoped) rows[model.publicName] = await model.count({ where: { tenantId: tenant.id } });
    }
    const sockets = [...Flux.io.of('/').sockets.values()].filter(
      (socket) => Flux.sockets.auth(socket)?.tenantId === tenant.id,
    );
    const [uploads, avatars] = await Promise.all([
      Flux.Upload.sum('size', { where: { tenantId: tenant.id } }),
      avatarBytes(tenant.id),
    ]);
    res.ok({ tenantId: tenant.id, rows, sockets: sockets.length, storageBytes: (uploads || 0) + avatars });
  }
}
