import type { ModelTypes } from './generated/models.js';

/**
 * Item, filter and input types of the application's models. The per-model types are generated from the
 * server's model classes into client/src/generated/models.ts (`npm run client:generate`; a test fails when
 * they are behind): a renamed attribute breaks the client's compilation, never its runtime. Nothing here
 * exists at run time.
 */

/** A model's public name: `alert`, `alertButton`, … */
export type ModelName = keyof ModelTypes;

/** An item of `name` as replies and events carry it: every public attribute, dates as ISO strings. */
export type Item<N extends ModelName> = ModelTypes[N]['item'];

/**
 * A create body: the model's writable attributes but those the server sets (`id`, `tenantId`, timestamps),
 * hidden ones included (a user's `password`); those the model requires (neither optional nor nullable)
 * must be given. The server ignores attributes the user may not write.
 */
export type CreateInput<N extends ModelName> = ModelTypes[N]['create'];

/** An update body (`patch`, `update`): any of the create body's attributes. */
export type Input<N extends ModelName> = ModelTypes[N]['update'];

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
