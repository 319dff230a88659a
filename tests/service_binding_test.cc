// Service bindings between apps (filled in below).
#include <gtest/gtest.h>
