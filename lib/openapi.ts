import type { ModelStatic } from 'sequelize';
import { z } from 'zod';
import { type FluxModel, type FluxModelClass, publicAttributes } from './FluxModel.js';
import { ModelController } from './ModelController.js';
import type { AttributeInfo } from './query.js';
import type { RouteRecord } from './routes.js';

/**
 * An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0) generated from the route table, the
 * models' attributes (generic CRUD) and the zod schemas that controllers declare for their own actions
 * (`static schemas = { action: zodSchema }`, turned into JSON Schema by `z.toJSONSchema`). Every route of
 * `config/routes.ts` is an operation; the same operations are reachable as socket virtual requests.
 */

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/**
 * What a controller adds to the document for one of its actions (`static openapi = {action: {…}}`), for
 * what Flux cannot infer: a description, query parameters, responses (e.g. a `text/event-stream` 200).
 * OpenAPI 3.1 Operation Object fields (https://spec.openapis.org/oas/v3.1.0#operation-object).
 */
export interface OperationDoc {
  description?: string;
  parameters?: Array<Record<string, unknown>>;
  responses?: Record<string, unknown>;
}

const errorResponse = {
  description: 'Error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

function attributeSchema(info: AttributeInfo, nullable: boolean): JsonSchema {
  const base: JsonSchema =
    info.kind === 'integer'
      ? { type: 'integer' }
      : info.kind === 'number'
        ? { type: 'number' }
        : info.kind === 'boolean'
          ? { type: 'boolean' }
          : info.kind === 'date'
            ? { type: 'string', format: 'date-time' }
            : info.kind === 'json'
              ? {}
              : info.values
                ? { type: 'string', enum: [...info.values] }
                : { type: 'string' };
  if (!nullable || info.kind === 'json') return base;
  return 'enum' in base
    ? { ...base, type: ['string', 'null'], enum: [...(base.enum as string[]), null] }
    : { ...base, type: [base.type, 'null'] };
}

/** The schema of a model as replies and events carry it (hidden attributes left out). */
function modelSchema(model: FluxModelClass): JsonSchema {
  const raw = (model as unknown as ModelStatic<FluxModel>).getAttributes() as Record<
    string,
    { allowNull?: boolean }
  >;
  const properties: Record<string, JsonSchema> = {};
  for (const [name, info] of publicAttributes(model))
    properties[name] = attributeSchema(info, raw[name]?.allowNull !== false);
  return { type: 'object', properties, required: [...publicAttributes(model).keys()] };
}

/** The schema of the writable attributes (generic create/update bodies). */
function writableSchema(model: FluxModelClass): JsonSchema {
  const all = modelSchema(model).properties as Record<string, JsonSchema>;
  const properties: Record<string, JsonSchema> = {};
  const raw = (model as unknown as ModelStatic<FluxModel>).getAttributes() as Record<
    string,
    { type: { key: string } }
  >;
  for (const name of model.writableAttributes) {
    if (all[name]) properties[name] = all[name];
    else if (raw[name]) properties[name] = { type: 'string', writeOnly: true }; // hidden but writable (password)
  }
  return { type: 'object', properties };
}

const findParameters = [
  {
    name: 'data',
    in: 'query',
    description:
      'JSON: {filters, sort, limit, offset, count, subscribe}. filters is a where object with the operators ' +
      'eq ne gt gte lt lte in notIn like notLike between is not and or; sort "name" / "-createdAt" / a list; ' +
      'limit 1–1000 (100); count: true adds X-Total-Count (past query.maxCount: that number and ' +
      'X-Total-Count-Capped: true). Socket clients send the same object as `data`.',
    schema: { type: 'string' },
  },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
  { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } },
  { name: 'sort', in: 'query', schema: { type: 'string' } },
  { name: 'count', in: 'query', schema: { type: 'boolean' } },
];

export interface OpenApiOptions {
  title: string;
  version: string;
  routes: RouteRecord[];
  controllers: Readonly<Record<string, object>>;
  /**
   * Names of the middlewares that require credentials (`config.openapi.securedBy`): a route using one is
   * documented with the `bearerAuth` scheme and 401/403 replies. Default none.
   */
  securedBy?: readonly string[];
}

/** Builds the document. Pure: the same routes and controllers give the same document. */
export function buildOpenApi(options: OpenApiOptions): JsonSchema {
  const paths: Record<string, Record<string, Operation>> = {};
  const securedBy = new Set(options.securedBy ?? []);
  const schemas: Record<string, JsonSchema> = {
    Error: {
      type: 'object',
      required: ['_error'],
      properties: {
        _error: {
          type: 'object',
          required: ['status', 'code', 'message'],
          properties: {
            status: { type: 'integer' },
            code: { type: 'string' },
            message: { type: 'string' },
            validation: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  path: { type: 'string' },
                  message: { type: 'string' },
                  type: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  };

  for (const route of options.routes) {
    const controller = options.controllers[route.controller];
    const statics = controller?.constructor as
      | { schemas?: Record<string, z.ZodType>; openapi?: Record<string, OperationDoc> }
      | undefined;
    const declared = statics?.schemas?.[route.action];
    const documented = statics?.openapi?.[route.action];
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: Array<Record<string, unknown>> = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map(
      (match) => ({
        name: match[1],
        in: 'path',
        required: true,
        schema: match[1] === 'id' ? { type: 'integer', minimum: 1 } : { type: 'string' },
      }),
    );
    const operation: Operation = {
      operationId: `${route.controller}.${route.action}${route.method === 'patch' ? 'Patch' : ''}`,
      summary: `${route.controller}.${route.action}`,
      tags: [route.path.split('/')[1] || 'root'],
      responses: { 200: { description: 'OK' }, 400: errorResponse, 429: errorResponse },
    };
    if (route.middlewares.some((name) => securedBy.has(name))) {
      operation.security = [{ bearerAuth: [] }];
      Object.assign(operation.responses as object, { 401: errorResponse, 403: errorResponse });
    }
    if (parameters.length) Object.assign(operation.responses as object, { 404: errorResponse });

    if (controller instanceof ModelController) {
      const model = (controller as unknown as { model: FluxModelClass }).model;
      const name = model.name;
      schemas[name] ??= modelSchema(model);
      const ref = { $ref: `#/components/schemas/${name}` };
      const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
      const responses = operation.responses as Record<string, unknown>;
      switch (route.action) {
        case 'find':
          parameters.push(...findParameters);
          responses[200] = {
            description: `The readable ${name} items`,
            content: json({ type: 'array', items: ref }),
          };
          break;
        case 'get':
        case 'destroy':
          responses[200] = { description: name, content: json(ref) };
          break;
        case 'create':
          operation.requestBody = { required: true, content: json(writableSchema(model)) };
          delete responses[200];
          responses[201] = { description: `The created ${name}`, content: json(ref) };
          break;
        case 'update':
          operation.requestBody = { required: true, content: json(writableSchema(model)) };
          responses[200] = { description: `The updated ${name}`, content: json(ref) };
          break;
        case 'subscribe':
        case 'unsubscribe':
          operation.description = `Socket only (HTTP answers 400): ${route.action} to the events model:${model.publicName}.`;
          break;
      }
    }
    if (declared) {
      const { $schema: _ignored, ...schema } = z.toJSONSchema(declared, {
        io: 'input',
        unrepresentable: 'any',
      }) as JsonSchema;
      operation.requestBody = { required: true, content: { 'application/json': { schema } } };
    }
    if (route.file) {
      operation.requestBody = {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: [route.file],
              properties: { [route.file]: { type: 'string', format: 'binary' } },
            },
          },
        },
      };
      operation.description = 'HTTP only: a socket request to this route answers 400.';
    }
    if (documented) {
      if (documented.description) operation.description = documented.description;
      parameters.push(...(documented.parameters ?? []));
      Object.assign(operation.responses as object, documented.responses ?? {});
    }
    if (parameters.length) operation.parameters = parameters;
    paths[path] ??= {};
    paths[path][route.method] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title,
      version: options.version,
      description:
        'Every operation is also available over socket.io: emit `request` {method, url, data, headers} and ' +
        'receive {statusCode, headers, data} in the ack (see docs/protocol.md).',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas,
    },
    paths,
  };
}
