import type { Attributes, CreationAttributes, Model } from 'sequelize';
import type { ClientModels } from '../../api/models/index.js';

/**
 * Item, filter and input types of the application's models, derived type-only from the server's own
 * classes (`ClientModels` in api/models/index.ts): a renamed attribute breaks the client's compilation,
 * never its runtime. Nothing here exists at run time.
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

/** The operators of one attribute's condition (docs/protocol.md, `find` parameters). */
export interface Operators<V> {
  eq?: V | null;
  ne?: V | null;
  gt?: V;
  gte?: V;
  lt?: V;
  lte?: V;
  in?: V[];
  notIn?: V[];
  between?: [V, V];
  like?: Extract<V, string>;
  notLike?: Extract<V, string>;
  is?: null | boolean;
  not?: V | null;
}

/** A `find` filter over the public attributes of `T`: a wrong attribute name does not compile. */
export type Filter<T> = {
  [K in keyof T]?: T[K] | NonNullable<T[K]>[] | Operators<NonNullable<T[K]>>;
} & {
  and?: Filter<T>[];
  or?: Filter<T>[];
  not?: Filter<T>;
};

/** A sort key: an attribute, `-` before it for descending. */
export type SortKey<T> = Extract<keyof T, string> | `-${Extract<keyof T, string>}`;

/** The parameters of `find`. */
export interface FindParams<T> {
  filters?: Filter<T>;
  sort?: SortKey<T> | SortKey<T>[];
  limit?: number;
  offset?: number;
}
