export default {
  middlewares: ['reqLogger', 'resLogger'],
  /** Any browser origin, for front ends served by a dev server. */
  cors: { origin: true },
};
