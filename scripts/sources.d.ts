/** Types of scripts/sources.js (plain JavaScript: `npm start` runs it before any TypeScript loader). */

/** Where the build records the digest of its sources, relative to the project (`dist/.sources-sha256`). */
export declare const STAMP: string;
/** SHA-256 (hex) of the files the server build compiles, by path and content. */
export declare function sourcesDigest(root: string): string;
/** Whether `root`'s `dist/` was built from its current sources. */
export declare function builtFromSources(root: string): boolean;
/** Records `digest` as the sources `root`'s `dist/` was built from. */
export declare function recordBuild(root: string, digest: string): void;
/** Forgets what `root`'s `dist/` was built from. */
export declare function forgetBuild(root: string): void;
