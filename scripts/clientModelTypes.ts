import type { Attributes, CreationAttributes, Model } from 'sequelize';
import type { ClientModels } from '../api/models/index.js';

/**
 * The client's item and input types, derived type-only from the server's model classes (`ClientModels` in
 * api/models/index.ts). `npm run client:generate` (scripts/clientGenerate.ts) prints them as plain types
 * into client/src/generated/models.ts, so that the client package imports nothing of the server;
 * test/unit/clientGenerated.test.ts fails when that file is behind the models.
 */

/** A model's public name: `alert`, `alertButton`, … */
export type ModelName = keyof ClientModels;

/**
 * What JSON makes of a value: dates become ISO strings; Sequelize's `CreationOptional` brand is dropped.
 */
export type Jsonified<T> = T extends Date
  ? string
  : T extends string
    ? string extends T
      ? string
      : T
    : T extends number
      ? number
      : T extends boolean
        ? boolean
        : T extends null | undefined
          ? T
          : T extends readonly (infer U)[]
            ? Jsonified<U>[]
            : T extends object
              ? { [K in keyof T]: Jsonified<T[K]> }
              : T;

type ModelClass = abstract new (...args: never[]) => Model;
type Instance<C> = C extends abstract new (...args: never[]) => infer I ? I : never;
/** A declared list's names, or none when it is only typed `string[]` (the base class's default). */
type Listed<L> = L extends readonly (infer N)[] ? (string extends N ? never : N) : never;
type Hidden<C> = C extends { hiddenAttributes: infer L } ? Listed<L> : never;

/** An item of `name` as replies and events carry it: every public attribute, hidden ones left out. */
export type Item<N extends ModelName> = ClientModels[N] extends ModelClass
  ? Jsonified<Omit<Attributes<Instance<ClientModels[N]>>, Hidden<ClientModels[N]>>>
  : never;

/** Attributes the server sets itself: never writable through CRUD (docs/protocol.md §5). */
type ServerSet = 'id' | 'tenantId' | 'createdAt' | 'updatedAt';

/**
 * A create or update body: any attribute but those the server sets, hidden ones included (a user's
 * `password`). The server ignores attributes the user may not write, and reports missing or invalid ones
 * as a `ValidationError`.
 */
export type Input<N extends ModelName> = ClientModels[N] extends ModelClass
  ? Partial<Omit<Jsonified<Attributes<Instance<ClientModels[N]>>>, ServerSet>>
  : never;

/** Keys of `T` a value must be given for: neither optional nor nullable. */
type RequiredKeys<T> = {
  [K in keyof T]-?: object extends Pick<T, K> ? never : null extends T[K] ? never : K;
}[keyof T];

/**
 * A create body: {@link Input}, with the attributes the model requires at creation (neither optional
 * — `CreationOptional` or defaulted in the class — nor nullable) required. A missing one does not compile.
 */
export type CreateInput<N extends ModelName> = ClientModels[N] extends ModelClass
  ? Jsonified<Omit<CreationAttributes<Instance<ClientModels[N]>>, ServerSet>> extends infer C
    ? Pick<C, RequiredKeys<C>> & Partial<C>
    : never
  : never;
