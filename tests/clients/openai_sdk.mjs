// The openai Node SDK against orrery: `node openai_sdk.mjs SCENARIO BASE_URL MODEL`.
// SCENARIO is text, stream, tool or compact; prints one JSON object to stdout.
import OpenAI from "openai";

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

const scenarios = { text, stream, tool, compact };
try {
  console.log(JSON.stringify(await scenarios[scenario]()));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), status: error.status ?? null, body: error.error ?? null }));
  process.exitCode = 1;
}
