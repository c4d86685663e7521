-- GET a path as it is (the bare endpoint), reporting like the other scripts.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")
