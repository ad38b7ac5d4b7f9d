// Feathers 5: feathers-sequelize service over REST and socket.io, a JWT check, a channel for created items.
import { AuthenticationService, authenticate, JWTStrategy } from '@feathersjs/authentication';
import express, { errorHandler, json, rest } from '@feathersjs/express';
import { feathers } from '@feathersjs/feathers';
import socketio from '@feathersjs/socketio';
import { SequelizeService } from 'feathers-sequelize';
import { openDatabase, ready, SECRET } from './common.mjs';

const { Message } = openDatabase();
const app = express(feathers());
app.set('authentication', {
  secret: SECRET,
  entity: null,
  authStrategies: ['jwt'],
  jwtOptions: { algorithm: 'HS256' },
});
app.use(json());
app.configure(rest());
app.configure(socketio());
const auth = new AuthenticationService(app);
auth.register('jwt', new JWTStrategy());
app.use('authentication', auth);
app.use('messages', new SequelizeService({ Model: Message, paginate: false }));
app.service('messages').hooks({
  before: {
    all: [authenticate('jwt')],
    create: [
      (context) => {
        context.data = { ...context.data, tenantId: 1, userId: 1 };
      },
    ],
  },
});
app.on('connection', (connection) => app.channel('everyone').join(connection));
app.service('messages').publish('created', () => app.channel('everyone'));
app.use(errorHandler({ logger: false }));
const token = await auth.createAccessToken({ sub: '1' });
const server = await app.listen(0);
ready(server.address().port, token);
