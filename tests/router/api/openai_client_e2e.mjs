// End to end with the real `openai` npm client (v6) against fake_router.
// Usage: node openai_client_e2e.mjs <fake_router> <tokenizer.json> <node_modules dir>
// Exits 77 (skip) when the openai package is not installed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const [routerBin, tokenizerPath, modulesDir] = process.argv.slice(2);
let OpenAI;
try {
  OpenAI = createRequire(modulesDir + '/')('openai').OpenAI;
} catch (e) {
  console.log(`SKIP: openai not found under ${modulesDir}`);
  process.exit(77);
}
const MODEL = 'Qwen/Qwen3-30B-A3B';

const router = spawn(routerBin, [tokenizerPath, MODEL], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  router.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/PORT (\d+)/);
    if (m) resolve(Number(m[1]));
  });
  router.on('exit', (code) => reject(new Error(`fake_router exited ${code}`)));
});

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none', maxRetries: 0 });
try {
  const models = await client.models.list();
  assert.equal(models.data[0].id, MODEL);

  const c = await client.completions.create({ model: MODEL, prompt: 'Hello, my name is', max_tokens: 8 });
  assert.equal(c.object, 'text_completion');
  assert.match(c.id, /^cmpl-/);
  assert.equal(c.choices.length, 1);
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, 8);
  assert.ok(c.choices[0].text.length > 0);

  const ids = await client.completions.create({
    model: MODEL, prompt: [9707, 11, 847, 829, 374], max_tokens: 4, logprobs: 2,
  });
  assert.equal(ids.choices[0].logprobs.tokens.length, 4);
  assert.equal(ids.choices[0].logprobs.text_offset[0], 0);

  // Streaming: the same text as the whole response for the same prompt.
  const stream = await client.completions.create({
    model: MODEL, prompt: 'Hello, my name is', max_tokens: 8, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.text;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(text, c.choices[0].text);
  assert.equal(finish, 'length');
  assert.equal(usage.total_tokens, c.usage.total_tokens);

  // Errors map onto the client's error classes.
  await assert.rejects(client.completions.create({ model: MODEL, prompt: 'x', max_tokens: -1 }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
  await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x' }),
                       (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.completions.create({ model: MODEL, prompt: 'x', n: 2 }),
                       (e) => e instanceof OpenAI.BadRequestError && /n/.test(e.message));

  // Abandoning a stream half way is fine.
  const abandoned = await client.completions.create({ model: MODEL, prompt: 'long', max_tokens: 500, stream: true });
  for await (const chunk of abandoned) { void chunk; break; }

  console.log('openai e2e: ok');
} finally {
  router.stdin.end();
}
await new Promise((resolve) => router.on('exit', resolve));
