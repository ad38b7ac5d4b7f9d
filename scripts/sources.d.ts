/** Types of scripts/sources.js (plain JavaScript: `npm start` runs it before any TypeScript loader). */

/** What `npm start` prints first when it runs the build. */
export declare const RUNNING_BUILD: string;
/** Where the build records its digests, relative to the project (`dist/.sources-sha256`). */
export declare const STAMP: string;
/** SHA-256 (hex) of the files the server build compiles, by path and content. */
export declare function sourcesDigest(root: string): string;
/** SHA-256 (hex) of what `dist/` holds but the stamp, by path and content. */
export declare function outputDigest(root: string): string;
/** Whether `root`'s `dist/` is what `npm run build` made from its current sources. */
export declare function builtFromSources(root: string): boolean;
/** Records that `root`'s `dist/` was built from sources of digest `sources` (and what it holds now). */
export declare function recordBuild(root: string, sources: string): void;
/** Forgets what `root`'s `dist/` was built from. */
export declare function forgetBuild(root: string): void;
