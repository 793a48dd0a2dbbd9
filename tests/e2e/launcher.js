// Starts telegram-test-api on 127.0.0.1 with the small fixes aiogram 3 needs:
//  1. getMe lacks `is_bot`;                2. getUpdates ignores the long-poll `timeout`;
//  3. callback queries lack `chat_instance`; 4. sendMessage returns `date` in milliseconds;
//  5. answerCallbackQuery answers `null` where the Bot API answers `true`;
//  (and getUpdates keeps an update until `offset` confirms it, as the Bot API does)
//  6. editMessageText answers `null` where the Bot API answers the message (`true` will do).
//  8. webhooks: the secret token set with setWebhook is sent with each update, and an update the
//     bot does not answer with 2xx is delivered again every second, as Telegram does.
//  7. getChat, getChatMember, getChatMemberCount and getChatAdministrators are missing: the bot
//     is a member of every group, with one coordinator and no administrators, except chat -1000
//     which does not exist ("chat not found"); a person asked for is OsebaID, as the tests
//     name them. getMe says privacy mode is off, unless KORAK_E2E_PRIVACY=on.
//  9. sendPhoto is missing: a photo (multipart) is kept as a bot message whose text is its
//     caption, with `photo_bytes` (the file's size) to tell it apart.
// Usage: node launcher.js PORT
'use strict';
const path = require('path');
const lib = path.join(__dirname, 'node_modules', 'telegram-test-api', 'lib');
const { handle } = require(path.join(lib, 'routes', 'bot', 'utils'));

// Route modules are patched before the route index reads them.
require(path.join(lib, 'routes', 'bot', 'getMe')).getMe = (app) => {
  handle(app, '/bot:token/getMe', (_req, res) => {
    // privacy mode is off (the bot reads a group's files), unless KORAK_E2E_PRIVACY=on
    res.sendResult({ ok: true, result: { id: 666, is_bot: true, first_name: 'korak test', username: 'KorakTestBot',
      can_read_all_group_messages: process.env.KORAK_E2E_PRIVACY !== 'on' } });
  });
};
require(path.join(lib, 'routes', 'bot', 'answerCallbackQuery')).answerCallbackQuery = (app) => {
  handle(app, '/bot:token/answerCallbackQuery', (_req, res) => res.sendResult({ ok: true, result: true }));
};
require(path.join(lib, 'routes', 'bot', 'editMessageText')).editMessageText = (app, server) => {
  handle(app, '/bot:token/editMessageText', (req, res) => {
    server.editMessageText(req.body);
    res.sendResult({ ok: true, result: true });
  });
};
require(path.join(lib, 'routes', 'bot', 'getUpdates')).getUpdates = (app, server) => {
  // As the Bot API does: an update stays until a later call confirms it with `offset`, so an
  // update fetched by a bot that was killed before it confirmed it is delivered again.
  handle(app, '/bot:token/getUpdates', (req, res) => {
    const token = req.params.token;
    const body = req.body || {};
    const timeout = Number(body.timeout || (req.query && req.query.timeout) || 0);
    const offset = Number(body.offset || (req.query && req.query.offset) || 0);
    const deadline = Date.now() + Math.min(timeout, 30) * 1000;
    if (offset) {
      server.storage.userMessages = server.storage.userMessages.filter(
        (u) => u.botToken !== token || u.updateId >= offset);
    }
    let gone = false;
    res.on('close', () => { gone = true; });
    const poll = () => {
      if (gone) return;
      const pending = server.storage.userMessages.filter(
        (u) => u.botToken === token && u.updateId >= offset);
      if (pending.length > 0 || Date.now() >= deadline) {
        res.sendResult({ ok: true, result: pending.slice(0, 100).map((u) => TelegramServer.formatUpdate(u)) });
      } else {
        setTimeout(poll, 30);
      }
    };
    poll();
  });
};

const routes = require(path.join(lib, 'routes', 'bot'));
const chatRoute = (name, answer) => (app) => {
  handle(app, `/bot:token/${name}`, (req, res) => {
    const chatId = Number((req.body || {}).chat_id || (req.query || {}).chat_id);
    if (chatId === -1000) {
      res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: chat not found' });
      return;
    }
    res.sendResult({ ok: true, result: answer(chatId) });
  });
};
const photoRoute = (app, server) => {
  handle(app, '/bot:token/sendPhoto', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('latin1');
      const field = (name) => {
        const m = body.match(new RegExp(`name="${name}"\\r\\n(?:[^\\r]*\\r\\n)*?\\r\\n([^\\r]*)`));
        return m ? Buffer.from(m[1], 'latin1').toString('utf8') : undefined;
      };
      const file = body.match(/filename="[^"]*"\r\n(?:[^\r]*\r\n)*?\r\n/);
      const start = file ? file.index + file[0].length : -1;
      const end = start >= 0 ? body.indexOf('\r\n--', start) : -1;
      const chatId = Number(field('chat_id'));
      const msg = server.addBotMessage({ chat_id: chatId, text: field('caption') || '',
        photo_bytes: end > start ? end - start : 0 }, req.params.token);
      res.sendResult({ ok: true, result: { message_id: msg.message_id,
        date: Math.floor(msg.date / 1000), caption: field('caption') || '',
        chat: { id: chatId, type: chatId < 0 ? 'supergroup' : 'private', title: 'Koordinatorke' },
        photo: [{ file_id: 'photo', file_unique_id: 'photo', width: 1080, height: 1620 }] } });
    });
  });
};
routes.botRoutes.unshift(
  photoRoute,
  chatRoute('getChat', (id) => ({
    id, type: id < 0 ? 'supergroup' : 'private', title: 'Koordinatorke', accent_color_id: 0,
    max_reaction_count: 11,
    accepted_gift_types: { unlimited_gifts: false, limited_gifts: false, unique_gifts: false,
      premium_subscription: false, gifts_from_channels: false } })),
  (app) => handle(app, '/bot:token/getChatMember', (req, res) => {
    // the bot itself, or a person of the group named as Emulator.person names them
    const body = { ...(req.query || {}), ...(req.body || {}) };
    const chatId = Number(body.chat_id);
    const userId = Number(body.user_id);
    if (chatId === -1000) {
      res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: chat not found' });
      return;
    }
    const user = userId && userId !== 666
      ? { id: userId, is_bot: false, first_name: `Oseba${userId}` }
      : { id: 666, is_bot: true, first_name: 'korak test' };
    res.sendResult({ ok: true, result: { status: 'member', user } });
  }),
  chatRoute('getChatMemberCount', () => 2),
  chatRoute('getChatAdministrators', () => []),
);
const TelegramServer = require('telegram-test-api');
const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const out = formatUpdate(update);
  if (out.callback_query) {
    out.callback_query.chat_instance = String(out.callback_query.chat_instance || 'korak-test');
  }
  return out;
};
const addBotMessage = TelegramServer.prototype.addBotMessage;
TelegramServer.prototype.addBotMessage = function patched(raw, token) {
  const msg = addBotMessage.call(this, raw, token);
  return { ...msg, date: Math.floor(msg.date / 1000) };
};

const axios = require(path.join(__dirname, 'node_modules', 'axios'));
const redeliver = [];
const deliver = async (server, update) => {
  const webhook = server.webhooks[update.botToken];
  const headers = webhook.secret_token
    ? { 'X-Telegram-Bot-Api-Secret-Token': webhook.secret_token } : {};
  try {
    const resp = await axios({ url: webhook.url, method: 'POST', headers,
      data: TelegramServer.formatUpdate(update), validateStatus: () => true, timeout: 10000 });
    return resp.status < 300;
  } catch (err) {
    return false;
  }
};
TelegramServer.prototype.addUserUpdate = async function patched(update) {
  if (this.webhooks[update.botToken]) {
    update = { ...update };
    this.updateId++;
    if (!(await deliver(this, update))) redeliver.push([this, update]);
    return;
  }
  this.storage.userMessages.push(update);
  this.updateId++;
};
setInterval(async () => {
  const pending = redeliver.splice(0, redeliver.length);
  for (const [server, update] of pending) {
    if (!server.webhooks[update.botToken] || !(await deliver(server, update))) {
      redeliver.push([server, update]);
    }
  }
}, 1000);

const port = Number(process.argv[2] || 9000);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 3600 });
server.start().then(() => {
  process.stdout.write(`ready ${port}\n`);
});
const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
