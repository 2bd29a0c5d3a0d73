#include "hp/view/text_escape.h"

#include "gtest/gtest.h"

namespace hp {
namespace {

TEST(ValidUtf8Test, KeepsValidAndReplacesInvalidSequences) {
  EXPECT_EQ(ValidUtf8("a\xC3\xA9z"), "a\xC3\xA9z");              // é
  EXPECT_EQ(ValidUtf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // emoji
  EXPECT_EQ(ValidUtf8("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"),                           // surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short
}

TEST(XmlEscapeTest, EscapesMarkupAndDropsControlCharacters) {
  EXPECT_EQ(XmlEscape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
  EXPECT_EQ(XmlEscape("a\x01"
                      "b\tc"),
            "a\xEF\xBF\xBD"
            "b\tc");
}

TEST(DotEscapeTest, EscapesQuotesBackslashesAndNewlines) {
  EXPECT_EQ(DotEscape("a\"b\\c\nd\x02"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace hp
