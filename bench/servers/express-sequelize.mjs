// Plain Express 5 + Sequelize, as a team would write it: a JWT check, then the query.
import express from 'express';
import jwt from 'jsonwebtoken';
import { openDatabase, ready, SECRET } from './common.mjs';

const { Message } = openDatabase();
const app = express();
app.use(express.json());
app.use((req, res, next) => {
  try {
    req.user = jwt.verify((req.headers.authorization ?? '').slice(7), SECRET);
    next();
  } catch {
    res.status(401).json({ error: 'Unauthorized' });
  }
});
app.get('/messages/:id', async (req, res) => {
  const message = await Message.findByPk(req.params.id);
  if (message) res.json(message);
  else res.status(404).json({ error: 'Not found' });
});
app.get('/messages', async (req, res) => {
  res.json(
    await Message.findAll({
      where: { channel: req.query.channel },
      limit: Number(req.query.limit) || 20,
      order: [['id', 'ASC']],
    }),
  );
});
app.post('/messages', async (req, res) => {
  res.status(201).json(
    await Message.create({
      tenantId: 1,
      text: req.body.text,
      channel: req.body.channel,
      userId: req.user.userId,
    }),
  );
});
const server = app.listen(0, '127.0.0.1', () =>
  ready(server.address().port, jwt.sign({ userId: 1 }, SECRET)),
);
