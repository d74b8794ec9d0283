import type OpenAI from "openai";
import type { Response, ResponseItem } from "openai/resources/responses/responses";
import { type FormEvent, useEffect, useState } from "react";

import { formatTime, type ListPage } from "./api";
import { ErrorNote, Json } from "./Json";
import { useLoaded } from "./loading";

/** What the response says of its own making, without what it produced. */
function requestParameters(response: Response): Record<string, unknown> {
  const produced = new Set([
    "id", "object", "created_at", "completed_at", "status", "output", "output_text", "usage", "error",
    "incomplete_details",
  ]);
  return Object.fromEntries(Object.entries(response).filter(([name]) => !produced.has(name)));
}

function ResponseList({ client }: { client: OpenAI }) {
  const { value: page, error } = useLoaded(
    () => client.get<ListPage<Response>>("/responses", { query: { limit: 50 } }),
    [client],
  );

  return (
    <>
      <ErrorNote error={error} />
      <table data-testid="response-list">
        <thead><tr><th>id</th><th>model</th><th>status</th><th>created</th></tr></thead>
        <tbody>
          {page?.data.map((response) => (
            <tr key={response.id}>
              <td><a href={`#/responses/${response.id}`}>{response.id}</a></td>
              <td>{response.model}</td>
              <td>{response.status}</td>
              <td>{formatTime(response.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page?.has_more && <p className="muted">The 50 newest are shown.</p>}
    </>
  );
}

function ResponseDetail({ client, id }: { client: OpenAI; id: string }) {
  const { value, error } = useLoaded(
    () => Promise.all([client.responses.retrieve(id), client.responses.inputItems.list(id, { order: "asc", limit: 100 })]),
    [client, id],
  );

  if (error) return <ErrorNote error={error} />;
  if (!value) return <p aria-busy="true">Loading {id}</p>;
  const [response, items] = value;
  const inputs: ResponseItem[] = items.data;
  return (
    <article data-testid="response-detail">
      <header>
        <strong>{response.id}</strong> · {response.model} · <span data-testid="response-status">{response.status}</span>
        <span className="muted"> · {formatTime(response.created_at)}</span>
        {response.previous_response_id && (
          <> · after <a href={`#/responses/${response.previous_response_id}`}>{response.previous_response_id}</a></>
        )}
        {response.conversation && (
          <> · in <a href={`#/conversations/${response.conversation.id}`}>{response.conversation.id}</a></>
        )}
      </header>
      {response.error && <><h6>Error</h6><Json value={response.error} testId="response-error" /></>}
      {response.incomplete_details && <><h6>Incomplete</h6><Json value={response.incomplete_details} /></>}
      <h6>Usage</h6>
      <table data-testid="response-usage">
        <tbody>
          <tr><th>input tokens</th><td>{response.usage?.input_tokens}</td></tr>
          <tr><th>cached input tokens</th><td>{response.usage?.input_tokens_details?.cached_tokens}</td></tr>
          <tr><th>output tokens</th><td>{response.usage?.output_tokens}</td></tr>
          <tr><th>reasoning tokens</th><td>{response.usage?.output_tokens_details?.reasoning_tokens}</td></tr>
          <tr><th>total tokens</th><td>{response.usage?.total_tokens}</td></tr>
        </tbody>
      </table>
      <div className="grid">
        <div>
          <h6>Input items ({inputs.length})</h6>
          <div data-testid="input-items">{inputs.map((item) => <Json key={item.id} value={item} />)}</div>
        </div>
        <div>
          <h6>Output items ({response.output.length})</h6>
          <div data-testid="output-items">{response.output.map((item, index) => <Json key={index} value={item} />)}</div>
        </div>
      </div>
      <h6>Request parameters, as stored</h6>
      <Json value={requestParameters(response)} testId="request-parameters" />
      <details>
        <summary>The whole response object</summary>
        <Json value={response} />
      </details>
    </article>
  );
}

export function Responses({ client, id }: { client: OpenAI; id: string }) {
  const [wanted, setWanted] = useState(id);
  useEffect(() => setWanted(id), [id]);

  function open(event: FormEvent) {
    event.preventDefault();
    window.location.hash = `#/responses/${wanted.trim()}`;
  }

  return (
    <section>
      <form onSubmit={open}>
        <fieldset role="group">
          <input aria-label="Response id" placeholder="resp_…" value={wanted} onChange={(event) => setWanted(event.target.value)} />
          <button type="submit" disabled={!wanted.trim()}>Open</button>
        </fieldset>
      </form>
      {id ? <ResponseDetail client={client} id={id} /> : <ResponseList client={client} />}
      {id && <a href="#/responses">All stored responses</a>}
    </section>
  );
}
