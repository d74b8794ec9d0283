import { useEffect, useMemo, useState } from "react";

import { clientFor, saveKey, savedKey } from "./api";
import { Chat } from "./Chat";
import { Conversations } from "./Conversations";
import { Files } from "./Files";
import { Recordings } from "./Recordings";
import { Responses } from "./Responses";

const PAGES = [
  ["chat", "Chat"],
  ["responses", "Responses"],
  ["files", "Files & vector stores"],
  ["conversations", "Conversations"],
  ["recordings", "Recordings"],
] as const;

type Page = (typeof PAGES)[number][0];

/** The page and the object id in the address's hash: ``#/responses/resp_…``. */
function useRoute(): [Page, string] {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const changed = () => setHash(window.location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const [page, id = ""] = hash.replace(/^#\/?/, "").split("/");
  const known = PAGES.find(([name]) => name === page);
  return [known ? known[0] : "chat", decodeURIComponent(id)];
}

export function App() {
  const [page, id] = useRoute();
  const [key, setKey] = useState(savedKey);
  const client = useMemo(() => clientFor(key), [key]);

  return (
    <>
      <header className="container-fluid">
        <nav>
          <ul>
            <li><strong>orrery console</strong></li>
            {PAGES.map(([name, label]) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={page === name ? "page" : undefined}>{label}</a>
              </li>
            ))}
          </ul>
          <ul>
            <li>
              <input
                type="password"
                placeholder="API key"
                aria-label="API key"
                value={key}
                onChange={(event) => {
                  setKey(event.target.value);
                  saveKey(event.target.value);
                }}
              />
            </li>
          </ul>
        </nav>
      </header>
      <main className="container-fluid">
        {page === "chat" && <Chat client={client} />}
        {page === "responses" && <Responses client={client} id={id} />}
        {page === "files" && <Files client={client} />}
        {page === "conversations" && <Conversations client={client} id={id} />}
        {page === "recordings" && <Recordings client={client} id={id} />}
      </main>
    </>
  );
}
