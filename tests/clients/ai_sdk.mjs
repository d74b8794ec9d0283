// The Vercel AI SDK against orrery: `node ai_sdk.mjs BASE_URL MODEL`.
// generateText over openai.responses(MODEL) with one zod tool and up to three steps; prints JSON.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, tool } from "ai";
import { z } from "zod";

const [baseURL, model] = process.argv.slice(2);
const sent = [];
const openai = createOpenAI({
  baseURL,
  apiKey: "test-key",
  fetch: async (url, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(url, init);
  },
});

try {
  const result = await generateText({
    model: openai.responses(model),
    prompt: "What is the weather in Paris?",
    maxRetries: 0,
    tools: {
      get_weather: tool({
        description: "Weather by city",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => ({ city, sky: "sunny" }),
      }),
    },
    stopWhen: isStepCount(3),
  });
  console.log(JSON.stringify({
    text: result.text,
    finish_reason: result.finishReason,
    reasoning_text: result.reasoningText ?? null,
    steps: result.steps.map((step) => ({
      finish_reason: step.finishReason,
      text: step.text,
      reasoning: step.reasoningText ?? null,
      reasoning_parts: step.reasoning.length,
      tool_calls: step.toolCalls.map((call) => ({ name: call.toolName, input: call.input })),
      tool_results: step.toolResults.map((r) => ({ name: r.toolName, output: r.output })),
    })),
    requests: sent,
  }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), status: error.statusCode ?? null,
                               body: error.responseBody ?? null }));
  process.exitCode = 1;
}
