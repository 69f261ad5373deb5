// The benchmark's peer: what a team would build instead of consent-relay with the usual Node.js
// parts. An HTTP endpoint takes consent events and enqueues one BullMQ job per webhook (on Redis,
// AOF fsynced every second: up to a second of acknowledged jobs can be lost); workers POST each
// one, signed the Standard Webhooks way, through an undici keep-alive pool, retrying on failure.
//
// node peer.js --port P --redis-port R --target http://127.0.0.1:N/hook --secret whsec_...
//              [--no-worker] [--no-ingest] [--concurrency 64] [--processes N]
// At its best on the machine: --processes (default: one per core) node:cluster processes, each
// with the HTTP ingest (sharing the port) and a worker of --concurrency. Prints "peer listening
// on P" when every process is ready. Counts (summed over the processes) go to stdout on SIGTERM
// as JSON.
// node peer.js --redis-port R --seed N --payload JSON: enqueues N jobs with that payload (the
// benchmark's backlog, as the relay's is seeded with SQL), prints "seeded N" and exits.
'use strict';
const cluster = require('node:cluster');
const os = require('node:os');
const http = require('node:http');
const crypto = require('node:crypto');
const { Queue, Worker } = require('bullmq');
const { Pool } = require('undici');

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(flag('--port', '0'));
const connection = { host: '127.0.0.1', port: Number(flag('--redis-port', '6379')) };
const target = new URL(flag('--target', 'http://127.0.0.1:8080/hook'));
const secret = Buffer.from(flag('--secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').slice(6), 'base64');
const concurrency = Number(flag('--concurrency', '64'));
const withWorker = !args.includes('--no-worker');
const withIngest = !args.includes('--no-ingest');
const processes = Number(flag('--processes', String(os.availableParallelism())));
const seedCount = Number(flag('--seed', '0'));

if (cluster.isPrimary && seedCount === 0 && processes > 1) {
  // The primary only starts the processes, and sums their counts at the end.
  const total = { accepted: 0, refused: 0, enqueued: 0, delivered: 0, failed: 0, delivered_bytes: 0 };
  let ready = 0;
  let reported = 0;
  let listening = 0;
  for (let i = 0; i < processes; i++) {
    const child = cluster.fork();
    child.on('message', (m) => {
      if (m.ready !== undefined) {
        listening = m.ready;
        if (++ready === processes) console.log(`peer listening on ${listening}`);
      } else if (m.counts) {
        for (const k of Object.keys(total)) total[k] += m.counts[k] || 0;
        if (++reported === processes) {
          process.stdout.write(JSON.stringify(total) + '\n', () => process.exit(0));
        }
      }
    });
  }
  const stopAll = () => {
    setTimeout(() => process.exit(0), 4000).unref();
    for (const child of Object.values(cluster.workers)) child.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  return;
}
const announce = (p) => (cluster.isWorker ? process.send({ ready: p }) : console.log(`peer listening on ${p}`));

const queue = new Queue('webhooks', { connection });
const jobOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 10000 },
  removeOnComplete: true,
  removeOnFail: false, // failed jobs are kept: the peer's "permanent storage"
};
const counts = { accepted: 0, refused: 0, enqueued: 0, delivered: 0, failed: 0, delivered_bytes: 0 };
const seed = Number(flag('--seed', '0'));

// Didomi's envelope, as consent-relay sends it: event.created, and user.updated for the user
// (with the event as its source and the user's new state, as the relay's user.updated carries).
function messages(event) {
  const now = new Date().toISOString();
  const id = 'evt_' + crypto.randomUUID();
  const entity = { id, created_at: now, updated_at: now, status: 'confirmed', ...event };
  return [
    { type: 'event.created', regulation: 'gdpr', parameters: { entity } },
    {
      type: 'user.updated',
      regulation: 'gdpr',
      parameters: {
        source: entity,
        new_entity: { ...event.user, consents: event.consents, updated_at: now },
      },
    },
  ];
}

if (seed > 0) {
  // The backlog: N jobs added in bulk, straight into the queue.
  const payload = flag('--payload', '{}');
  (async () => {
    for (let done = 0; done < seed; done += 1000) {
      const jobs = [];
      for (let i = done; i < Math.min(seed, done + 1000); i++) {
        jobs.push({ name: 'event.created', data: { id: 'msg_seed_' + i, payload }, opts: jobOptions });
      }
      await queue.addBulk(jobs);
    }
    await queue.close();
    console.log(`seeded ${seed}`);
    process.exit(0);
  })();
} else if (withIngest) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let event;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!event || typeof event !== 'object' || !event.user) throw new Error('user is required');
      } catch (e) {
        counts.refused++;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(e.message) }));
        return;
      }
      try {
        const jobs = messages(event).map((m) => ({
          name: m.type,
          data: { id: 'msg_' + crypto.randomUUID(), payload: JSON.stringify(m) },
          opts: jobOptions,
        }));
        await queue.addBulk(jobs);
        counts.accepted++;
        counts.enqueued += jobs.length;
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      } catch (e) {
        counts.refused++;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(e.message) }));
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1', () => announce(server.address().port));
} else {
  announce(0);
}

let worker = null;
if (withWorker && seed === 0) {
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  worker = new Worker(
    'webhooks',
    async (job) => {
      const timestamp = Math.floor(Date.now() / 1000);
      const body = job.data.payload;
      const signature = crypto
        .createHmac('sha256', secret)
        .update(`${job.data.id}.${timestamp}.${body}`)
        .digest('base64');
      const res = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: {
          'content-type': 'application/json',
          'webhook-id': job.data.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': `v1,${signature}`,
        },
        body,
        headersTimeout: 10000,
        bodyTimeout: 10000,
      });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode > 299) {
        counts.failed++;
        throw new Error(`endpoint answered ${res.statusCode}`);
      }
      counts.delivered++;
      counts.delivered_bytes += Buffer.byteLength(body);
    },
    { connection, concurrency },
  );
}

async function stop() {
  // Never outlive the bench: if Redis is gone already, closing would wait for it forever.
  setTimeout(() => process.exit(0), 2000).unref();
  try {
    if (worker) await worker.close(true);
    await queue.close();
  } finally {
    if (cluster.isWorker) {
      process.send({ counts }, () => process.exit(0));
    } else {
      process.stdout.write(JSON.stringify(counts) + '\n', () => process.exit(0));
    }
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
