import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataTypes, type Sequelize } from 'sequelize';
import type { ConfigSchema } from './config.js';
import type { FluxContext } from './context.js';
import { FluxModel, type FluxModelClass, type ModelContext, provideModelContext } from './FluxModel.js';
import type { FluxMiddleware } from './http.js';

/**
 * Loading the application's code by convention (docs/reference.md#layout): every `X.ts` (or `.js` once built)
 * of a folder is imported, and its export named `X` is taken — a model, a controller, a middleware.
 */

const sourceFile = /^[A-Za-z][A-Za-z0-9]*\.(ts|js)$/;

/** `[name, module]` for every source file of `dir` (none when the folder does not exist). */
export async function importDir(dir: string): Promise<Array<[string, Record<string, unknown>]>> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => sourceFile.test(f) && !f.endsWith('.d.ts'))
      .sort();
  } catch {
    return [];
  }
  return Promise.all(
    files.map(
      async (file): Promise<[string, Record<string, unknown>]> => [
        path.basename(file, path.extname(file)),
        (await import(pathToFileURL(path.join(dir, file)).href)) as Record<string, unknown>,
      ],
    ),
  );
}

/**
 * Initializes every FluxModel class of `dir` on `sequelize` (adding `tenantId` to tenant-scoped ones),
 * hands each its context (`Model.app`: config, roles, log), then lets each declare its associations
 * (`static associate(models)`).
 */
export async function loadModels(
  dir: string,
  sequelize: Sequelize,
  app: ModelContext,
): Promise<Record<string, FluxModelClass>> {
  const found: FluxModelClass[] = [];
  for (const [name, exports] of await importDir(dir)) {
    const model = exports[name];
    if (typeof model === 'function' && model.prototype instanceof FluxModel)
      found.push(model as FluxModelClass);
  }
  for (const model of found) {
    const attributes = { ...model.modelAttributes };
    if (model.tenantScoped) attributes.tenantId = { type: DataTypes.INTEGER, allowNull: false };
    model.init(attributes, { ...model.modelOptions, sequelize, modelName: model.name });
    provideModelContext(model, app);
  }
  const models = Object.fromEntries(found.map((model) => [model.name, model]));
  for (const model of found) {
    const associate = (model as unknown as { associate?: (all: Record<string, FluxModelClass>) => void })
      .associate;
    associate?.call(model, models);
  }
  return models;
}

/**
 * One instance of every controller class of `dir`, by name, each handed `app` through its
 * `setup(app)` when it has one (as `ModelController` does).
 */
export async function loadControllers(dir: string, app: FluxContext): Promise<Record<string, object>> {
  const controllers: Record<string, object> = {};
  for (const [name, exports] of await importDir(dir)) {
    const exported = exports[name];
    if (typeof exported !== 'function') continue;
    const controller = new (exported as new () => { setup?: (app: FluxContext) => void })();
    controller.setup?.(app);
    controllers[name] = controller;
  }
  return controllers;
}

/** Every middleware function of `dir`, by name. */
export async function loadMiddlewares(dir: string): Promise<Record<string, FluxMiddleware>> {
  const middlewares: Record<string, FluxMiddleware> = {};
  for (const [name, exports] of await importDir(dir)) {
    const middleware = exports[name];
    if (typeof middleware === 'function') middlewares[name] = middleware as FluxMiddleware;
  }
  return middlewares;
}

/** The `bootstrap` export of `<dir>/bootstrap.ts` (or `.js`), if the file exists. */
export async function loadBootstrap<T>(dir: string): Promise<((app: T) => Promise<void>) | undefined> {
  const file = ['ts', 'js'].map((ext) => path.join(dir, `bootstrap.${ext}`)).find((f) => existsSync(f));
  if (!file) return undefined;
  const { bootstrap } = (await import(pathToFileURL(file).href)) as { bootstrap?: (app: T) => Promise<void> };
  return typeof bootstrap === 'function' ? bootstrap : undefined;
}

/**
 * The `wireReactions(sequelize)` export of `<dir>/reactions.ts` (or `.js`): adds the application's
 * reactions to writes to its models. Flux calls it at every start, right after loading the models, so
 * every write path obeys them however Flux was started; none when the file does not exist.
 */
export async function loadReactions(dir: string): Promise<((sequelize: Sequelize) => void) | undefined> {
  const file = ['ts', 'js'].map((ext) => path.join(dir, `reactions.${ext}`)).find((f) => existsSync(f));
  if (!file) return undefined;
  const { wireReactions } = (await import(pathToFileURL(file).href)) as {
    wireReactions?: (sequelize: Sequelize) => void;
  };
  return typeof wireReactions === 'function' ? wireReactions : undefined;
}

/**
 * The `configSchema` export of `<dir>/configSchema.ts` (or `.js`): the application's config keys and
 * environment variables (lib/config.ts `ConfigSchema`); none when the file does not exist.
 */
export async function loadConfigSchema(dir: string): Promise<ConfigSchema> {
  const file = ['ts', 'js'].map((ext) => path.join(dir, `configSchema.${ext}`)).find((f) => existsSync(f));
  if (!file) return {};
  const { configSchema } = (await import(pathToFileURL(file).href)) as { configSchema?: ConfigSchema };
  return configSchema ?? {};
}
