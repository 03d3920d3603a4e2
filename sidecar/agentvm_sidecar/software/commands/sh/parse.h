/* sh: what the parser's two halves share: the source being read (words.c)
   and the list parser (parse.c) that $(...) and `...` recurse into. */
#ifndef AGENTVM_SH_PARSE_H
#define AGENTVM_SH_PARSE_H

#include "sh.h"

extern const char *src; /* the text being parsed, and where in it */
extern size_t pos;
extern int subst_depth;

int at(size_t i);
int is_name_start(int c);
int is_name_char(int c);
int is_meta(int c);
void skip_blanks(void);
int at_word(const char *word);
void skip_newlines(void);
void queue_heredoc(Cmd *cmd, int redir, char *delimiter, int strip_tabs, int quoted);
int heredocs_pending(void);
Word parse_word(void);
Word parse_plain_word(void);
void parse_words(Vec *words);
void parse_quoted_text(Word *w, int heredoc);
void check_references(const Word *w);
void check_assignment_word(const Word *w);
List *parse_list(void);

#endif
