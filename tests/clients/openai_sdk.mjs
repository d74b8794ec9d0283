// The openai Node SDK against orrery: `node openai_sdk.mjs SCENARIO BASE_URL MODEL`.
// SCENARIO is text, stream, tool, compact, background or websocket; prints one JSON object to stdout.
import OpenAI from "openai";
import { ResponsesWS } from "openai/resources/responses/ws";

const [scenario, baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "test-key", maxRetries: 0 });

const weather = {
  type: "function",
  name: "get_weather",
  description: "Weather by city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
  strict: true,
};

async function text() {
  const response = await client.responses.create({ model, input: "Which planet has rings?" });
  return { id: response.id, status: response.status, output_text: response.output_text,
           output_types: response.output.map((item) => item.type), usage: response.usage };
}

async function stream() {
  const events = [];
  const helper = client.responses.stream({ model, input: "Say hello." });
  for await (const event of helper) events.push(event.type);
  const final = await helper.finalResponse();
  const raw = [];
  for await (const event of await client.responses.create({ model, input: "Again.", stream: true })) {
    raw.push(event.type);
  }
  return { events, output_text: final.output_text, status: final.status, raw_events: raw };
}

async function tool() {
  const first = await client.responses.create({ model, input: "Weather in Paris?", tools: [weather] });
  const call = first.output.find((item) => item.type === "function_call");
  const second = await client.responses.create({
    model,
    previous_response_id: first.id,
    tools: [weather],
    input: [{ type: "function_call_output", call_id: call.call_id, output: JSON.stringify({ sky: "sunny" }) }],
  });
  return { call: { name: call.name, arguments: call.arguments, call_id: call.call_id },
           first_status: first.status, output_text: second.output_text, status: second.status };
}

async function compact() {
  const history = [
    { role: "user", content: "I am planning a trip to Lisbon." },
    { role: "assistant", content: "How many days?" },
  ];
  const compacted = await client.responses.compact({ model, input: history });
  const input = [...compacted.output, { role: "user", content: "Three days. What should I see?" }];
  const counted = await client.responses.inputTokens.count({ model, input });
  const next = await client.responses.create({ model, input });
  return { object: compacted.object, output_types: compacted.output.map((item) => item.type),
           usage: compacted.usage, input_tokens: counted.input_tokens, output_text: next.output_text };
}

async function background() {
  const queued = await client.responses.create({ model, input: "Work on it.", background: true });
  const resumed = [];
  for await (const event of await client.responses.retrieve(queued.id, { stream: true })) {
    resumed.push({ type: event.type, sequence_number: event.sequence_number });
  }
  const after = [];
  for await (const event of await client.responses.retrieve(queued.id, { stream: true, starting_after: 2 })) {
    after.push(event.sequence_number);
  }
  const long = await client.responses.create({ model, input: "Take your time.", background: true });
  const cancelled = await client.responses.cancel(long.id);
  const stored = await client.responses.retrieve(queued.id);
  return { queued_status: queued.status, resumed, after, output_text: stored.output_text,
           cancelled_status: cancelled.status };
}

function nextTerminal(socket) {
  return new Promise((resolve, reject) => {
    const types = [];
    const onEvent = (event) => {
      types.push(event.type);
      if (["response.completed", "response.failed", "response.incomplete", "error"].includes(event.type)) {
        socket.off("event", onEvent);
        resolve({ types, last: event });
      }
    };
    socket.on("event", onEvent);
    socket.on("error", reject);
  });
}

async function websocket() {
  const socket = new ResponsesWS(client);
  const turns = [];
  let previous;
  for (const input of ["First turn.", "Second turn."]) {
    const done = nextTerminal(socket);
    socket.send({ type: "response.create", model, input, store: false,
                  ...(previous ? { previous_response_id: previous } : {}) });
    const { types, last } = await done;
    previous = last.response?.id;
    turns.push({ types, status: last.response?.status, output_text: last.response?.output?.[0]?.content?.[0]?.text });
  }
  const missing = nextTerminal(socket);
  socket.send({ type: "response.create", model, input: "x", store: false, previous_response_id: "resp_gone" });
  const { last } = await missing;
  socket.close();
  return { turns, error: last.error ?? null, error_status: last.status ?? null };
}

const scenarios = { text, stream, tool, compact, background, websocket };
try {
  console.log(JSON.stringify(await scenarios[scenario]()));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), status: error.status ?? null, body: error.error ?? null }));
  process.exitCode = 1;
}
