# syntax=docker/dockerfile:1
# oauth2-sidecar: multi-stage build; the runtime image holds production dependencies and dist/ only.
# Node 22 LTS in the image (Node 20 reached end of life in April 2026); the code also runs on Node 20.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production CONFIG_FILE=/etc/oauth2-sidecar/config.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config.yaml /etc/oauth2-sidecar/config.yaml
# The image's unprivileged "node" user (uid 1000); mount your config over /etc/oauth2-sidecar.
USER node
EXPOSE 8080
CMD ["node", "dist/main.js"]
