/** The console's base path (Vite's `base`, `/console/`): every route and link is under it. */
export const BASE = import.meta.env.BASE_URL.replace(/\/$/, '');

/** The absolute path of a console page: `to('board')` → `/console/board`. */
export const to = (page: string): string => `${BASE}/${page}`;
