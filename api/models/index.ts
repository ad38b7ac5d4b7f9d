/**
 * The application's models. Flux loads every `api/models/X.ts` that exports a FluxModel class `X`;
 * this file only registers their types so that `Flux.User` is typed as the User model class.
 */
import type { Alert } from './Alert.js';
import type { AlertButton } from './AlertButton.js';
import type { Message } from './Message.js';
import type { Session } from './Session.js';
import type { Team } from './Team.js';
import type { Tenant } from './Tenant.js';
import type { Upload } from './Upload.js';
import type { User } from './User.js';

declare module '../../lib/Flux.js' {
  interface FluxModels {
    Alert: typeof Alert;
    AlertButton: typeof AlertButton;
    Message: typeof Message;
    Session: typeof Session;
    Team: typeof Team;
    Tenant: typeof Tenant;
    Upload: typeof Upload;
    User: typeof User;
  }
}

/**
 * The models a client reads and writes, by the name of their events (`model:<name>`). Type-only:
 * `@flux/client` derives its item, filter and input types from these classes (client/src/models.ts).
 */
export interface ClientModels {
  alert: typeof Alert;
  alertButton: typeof AlertButton;
  message: typeof Message;
  session: typeof Session;
  team: typeof Team;
  tenant: typeof Tenant;
  upload: typeof Upload;
  user: typeof User;
}
