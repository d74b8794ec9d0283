import type OpenAI from "openai";
import type { FileObject } from "openai/resources/files";
import type { VectorStore, VectorStoreSearchResponse } from "openai/resources/vector-stores/vector-stores";
import type { VectorStoreFile } from "openai/resources/vector-stores/files";
import { useCallback, useEffect, useState } from "react";

import { errorText, formatTime } from "./api";
import { ErrorNote } from "./Json";
import { submitted } from "./loading";

const POLL_MS = 1000;

function VectorStoreView({ client, store, files }: { client: OpenAI; store: VectorStore; files: FileObject[] }) {
  const [attached, setAttached] = useState<VectorStoreFile[]>([]);
  const [chosen, setChosen] = useState("");
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<VectorStoreSearchResponse[] | null>(null);
  const [error, setError] = useState("");

  const refresh = useCallback(
    () => client.vectorStores.files.list(store.id, { limit: 100 })
      .then((page) => setAttached(page.data))
      .catch((caught: unknown) => setError(errorText(caught))),
    [client, store.id],
  );

  useEffect(() => { refresh(); }, [refresh]);
  const ingesting = attached.some((file) => file.status === "in_progress");
  useEffect(() => {
    if (!ingesting) return;
    const timer = window.setInterval(refresh, POLL_MS);
    return () => window.clearInterval(timer);
  }, [ingesting, refresh]);

  const attach = submitted(setError, async () => {
    await client.vectorStores.files.create(store.id, { file_id: chosen });
    await refresh();
  });

  const search = submitted(setError, async () => {
    const page = await client.vectorStores.search(store.id, { query, max_num_results: 10 });
    setResults(page.data);
  });

  const filename = (id: string) => files.find((file) => file.id === id)?.filename ?? id;
  return (
    <article data-testid="vector-store">
      <header><strong>{store.name || store.id}</strong> <span className="muted">{store.id}</span></header>
      <form onSubmit={attach}>
        <fieldset role="group">
          <select aria-label="File to attach" value={chosen} onChange={(event) => setChosen(event.target.value)}>
            <option value="">a file to attach…</option>
            {files.map((file) => <option key={file.id} value={file.id}>{file.filename} ({file.id})</option>)}
          </select>
          <button type="submit" disabled={!chosen}>Attach</button>
        </fieldset>
      </form>
      <table data-testid="vector-store-files">
        <thead><tr><th>file</th><th>status</th><th>bytes indexed</th><th>error</th></tr></thead>
        <tbody>
          {attached.map((file) => (
            <tr key={file.id}>
              <td>{filename(file.id)}</td>
              <td aria-busy={file.status === "in_progress"}>{file.status}</td>
              <td>{file.usage_bytes}</td>
              <td>{file.last_error?.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={search}>
        <fieldset role="group">
          <input type="search" aria-label="Search the vector store" placeholder="Search" value={query}
            onChange={(event) => setQuery(event.target.value)} />
          <button type="submit" disabled={!query.trim()}>Search</button>
        </fieldset>
      </form>
      <ErrorNote error={error} />
      {results && (
        <div data-testid="search-results">
          {results.length === 0 && <p>Nothing found.</p>}
          {results.map((result, index) => (
            <div key={index} className="turn" data-testid="search-result">
              <p><strong>{result.filename}</strong> · score <span data-testid="score">{result.score.toFixed(4)}</span></p>
              {result.content.map((chunk, chunkIndex) => <p key={chunkIndex} className="muted">{chunk.text}</p>)}
            </div>
          ))}
        </div>
      )}
    </article>
  );
}

export function Files({ client }: { client: OpenAI }) {
  const [files, setFiles] = useState<FileObject[]>([]);
  const [stores, setStores] = useState<VectorStore[]>([]);
  const [upload, setUpload] = useState<File | null>(null);
  const [storeName, setStoreName] = useState("");
  const [selected, setSelected] = useState("");
  const [error, setError] = useState("");

  const refresh = useCallback(async () => {
    try {
      const [filePage, storePage] = await Promise.all([client.files.list({ limit: 100 }), client.vectorStores.list({ limit: 100 })]);
      setFiles(filePage.data);
      setStores(storePage.data);
    } catch (caught) {
      setError(errorText(caught));
    }
  }, [client]);

  useEffect(() => { refresh(); }, [refresh]);

  const uploadFile = submitted(setError, async () => {
    if (!upload) return; // the button is disabled without a file
    await client.files.create({ file: upload, purpose: "assistants" });
    await refresh();
  });

  const createStore = submitted(setError, async () => {
    const store = await client.vectorStores.create({ name: storeName });
    setStoreName("");
    await refresh();
    setSelected(store.id);
  });

  const store = stores.find((candidate) => candidate.id === selected);
  return (
    <div className="columns">
      <section>
        <h5>Vector stores</h5>
        <form onSubmit={createStore}>
          <fieldset role="group">
            <input aria-label="New vector store name" placeholder="New vector store name" value={storeName}
              onChange={(event) => setStoreName(event.target.value)} />
            <button type="submit">Create</button>
          </fieldset>
        </form>
        <select aria-label="Vector store" value={selected} onChange={(event) => setSelected(event.target.value)}>
          <option value="">a vector store…</option>
          {stores.map((candidate) => (
            <option key={candidate.id} value={candidate.id}>{candidate.name || candidate.id}</option>
          ))}
        </select>
        {store && <VectorStoreView key={store.id} client={client} store={store} files={files} />}
        <ErrorNote error={error} />
      </section>
      <aside>
        <h5>Files</h5>
        <form onSubmit={uploadFile}>
          <input type="file" aria-label="File to upload" onChange={(event) => setUpload(event.target.files?.[0] ?? null)} />
          <button type="submit" disabled={!upload}>Upload</button>
        </form>
        <table data-testid="file-list">
          <thead><tr><th>name</th><th>bytes</th><th>created</th></tr></thead>
          <tbody>
            {files.map((file) => (
              <tr key={file.id} title={file.id}>
                <td>{file.filename}</td><td>{file.bytes}</td><td>{formatTime(file.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </aside>
    </div>
  );
}
