// A tiny second subgraph for the federation tests: support tickets of CustomerGraph customers.
//
// It extends `Customer @key(fields: "id")` with `supportTickets`, and its own root fields
// return tickets whose `customer` is a reference that CustomerGraph resolves (`_entities`).
// Tickets are fake and deterministic, derived from the customer's (opaque, global) id, so
// tests/test_federation.py can compute the expected ones; the rule is `ticketsFor` below.
//
//   node support-subgraph.mjs [--host 127.0.0.1] [--port 4002]     (or env HOST / PORT)
//
// Port 0 takes a free port. Prints `SUPPORT SUBGRAPH READY <url>` (with the real port) once it
// listens.

import { parseArgs } from 'node:util';

import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

const typeDefs = parse(`
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])

  type Query {
    "One ticket by id (\`<customer id>~<n>\`); null when there is no such ticket."
    ticket(id: ID!): SupportTicket
    "Every ticket of the given customers, in the order of the ids (at most 100 ids)."
    tickets(customerIds: [ID!]!): [SupportTicket!]!
  }

  type Customer @key(fields: "id") {
    id: ID!
    "Between one and three tickets per customer."
    supportTickets: [SupportTicket!]!
  }

  enum SupportTicketStatus {
    OPEN
    PENDING
    SOLVED
  }

  type SupportTicket {
    id: ID!
    subject: String!
    status: SupportTicketStatus!
    "Resolved by CustomerGraph: null when the caller's tenant has no such customer."
    customer: Customer
  }
`);

const SUBJECTS = ['Cannot log in', 'Invoice question', 'Usage spike', 'Feature request'];
const STATUSES = ['OPEN', 'PENDING', 'SOLVED'];

/** The sum of the UTF-8 bytes of a string: the seed of everything below. */
function seed(text) {
  return Buffer.from(text, 'utf8').reduce((sum, byte) => sum + byte, 0);
}

/** The customer's tickets: 1 + seed % 3 of them, numbered from 1. */
function ticketsFor(customerId) {
  const base = seed(customerId);
  const count = 1 + (base % 3);
  return Array.from({ length: count }, (_, index) => {
    const n = index + 1;
    return {
      id: `${customerId}~${n}`,
      subject: SUBJECTS[(base + n) % SUBJECTS.length],
      status: STATUSES[(base + n) % STATUSES.length],
      customerId,
    };
  });
}

function ticketById(id) {
  const at = id.lastIndexOf('~');
  if (at <= 0) return null;
  return ticketsFor(id.slice(0, at)).find((ticket) => ticket.id === id) ?? null;
}

const resolvers = {
  Query: {
    ticket: (_, { id }) => ticketById(id),
    tickets: (_, { customerIds }) => {
      if (customerIds.length > 100) {
        throw new GraphQLError('At most 100 customerIds', {
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
      return customerIds.flatMap(ticketsFor);
    },
  },
  Customer: {
    __resolveReference: (reference) => ({ id: reference.id }),
    supportTickets: (customer) => ticketsFor(customer.id),
  },
  SupportTicket: {
    customer: (ticket) => ({ __typename: 'Customer', id: ticket.customerId }),
  },
};

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.PORT ?? '4002' },
  },
});

const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
  includeStacktraceInErrorResponses: false,
  plugins: [ApolloServerPluginInlineTraceDisabled()],
});
const { url } = await startStandaloneServer(server, {
  listen: { host: values.host, port: Number(values.port) },
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.stop().finally(() => process.exit(0));
  });
}

console.log(`SUPPORT SUBGRAPH READY ${url}`);
