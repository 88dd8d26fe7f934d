/*
 * methods.h — the private side of the method table (methods.c): each row is
 * the public attrib_method_info plus the function that runs the method.
 * attrib_explain() looks a method up here and calls its run function; it
 * never reasons from the enum's order.
 */
#ifndef ATTRIB_METHODS_H
#define ATTRIB_METHODS_H

#include "attribution/explain.h"

typedef struct method_row {
    attrib_method_info info;
    /* Fills c->res->scores (n_features) and, where they apply, std_errors,
     * f_baseline, gradients, IG's quadrature fields, n_forward, n_backward.
     * The options it reads (info.reads) were range-checked by explain.c. */
    attrib_status (*run)(explain_ctx *c);
} method_row;

/* The row of method M, or NULL for a value outside the table. */
const method_row *method_row_of(attrib_method m);

#endif
