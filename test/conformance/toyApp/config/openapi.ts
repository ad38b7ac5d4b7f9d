/** The toy's authentication middleware, named in the OpenAPI document instead of the application's. */
export default { securedBy: ['toyAuth'] };
