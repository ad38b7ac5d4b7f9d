export default {
  middlewares: ['reqLogger', 'resLogger'],
};
