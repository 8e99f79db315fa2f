/* A small JSON reader for test manifests: objects, arrays, strings (with
 * simple escapes), numbers, true/false/null. Parses into a tree of json
 * values; json_free releases it. Not for untrusted or huge input. */
#ifndef PFW_JSON_MINI_H
#define PFW_JSON_MINI_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json {
  json_kind kind;
  double number;     /* JSON_NUMBER, JSON_BOOL (0/1) */
  char* string;       /* JSON_STRING */
  struct json* items; /* JSON_ARRAY elements, JSON_OBJECT members */
  int count;
  char* key;          /* the member name, inside an object */
} json;

static void json_skip(const char** p) {
  while (isspace((unsigned char)**p)) (*p)++;
}

static char* json_string(const char** p) {
  const char* s = ++*p; /* after the opening quote */
  char* out = malloc(strlen(s) + 1);
  size_t n = 0;
  while (**p && **p != '"') {
    if (**p == '\\' && (*p)[1]) (*p)++; /* keep the escaped character as is */
    out[n++] = *(*p)++;
  }
  if (**p != '"') {
    free(out);
    return NULL;
  }
  (*p)++;
  out[n] = '\0';
  return out;
}

static void json_free(json* v);

/* Parses one value at *p into *v; returns 0 on a syntax error. */
static int json_value(const char** p, json* v) {
  memset(v, 0, sizeof *v);
  json_skip(p);
  char c = **p;
  if (c == '{' || c == '[') {
    v->kind = c == '{' ? JSON_OBJECT : JSON_ARRAY;
    (*p)++;
    json_skip(p);
    if (**p == (c == '{' ? '}' : ']')) return (*p)++, 1;
    for (;;) {
      json item, *grown;
      char* key = NULL;
      json_skip(p);
      if (c == '{') {
        if (**p != '"' || !(key = json_string(p))) return 0;
        json_skip(p);
        if (*(*p)++ != ':') return free(key), 0;
      }
      if (!json_value(p, &item)) return free(key), 0;
      item.key = key;
      if (!(grown = realloc(v->items, (size_t)(v->count + 1) * sizeof *grown))) return json_free(&item), 0;
      v->items = grown;
      v->items[v->count++] = item;
      json_skip(p);
      if (**p == ',') {
        (*p)++;
        continue;
      }
      return *(*p)++ == (c == '{' ? '}' : ']');
    }
  }
  if (c == '"') return v->kind = JSON_STRING, (v->string = json_string(p)) != NULL;
  if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
    v->kind = JSON_BOOL;
    v->number = c == 't';
    return *p += c == 't' ? 4 : 5, 1;
  }
  if (!strncmp(*p, "null", 4)) return *p += 4, 1;
  char* end;
  v->kind = JSON_NUMBER;
  v->number = strtod(*p, &end);
  if (end == *p) return 0;
  return *p = end, 1;
}

static void json_free(json* v) {
  for (int i = 0; i < v->count; i++) json_free(&v->items[i]);
  free(v->items);
  free(v->string);
  free(v->key);
}

/* Member `key` of an object, or NULL. */
static const json* json_get(const json* obj, const char* key) {
  for (int i = 0; obj && obj->kind == JSON_OBJECT && i < obj->count; i++)
    if (!strcmp(obj->items[i].key, key)) return &obj->items[i];
  return NULL;
}

#endif
